/* placeholder: being written */
#include "list_merge.h"

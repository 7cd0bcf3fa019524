/* placeholder: being written */
#include "client.h"

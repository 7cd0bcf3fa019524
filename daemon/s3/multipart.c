/* Multipart uploads (not yet). */
#include "s3/s3_i.h"

static void nyi(struct s3_req *r)
{
	s3_error(r, 501, "NotImplemented",
		 "multipart uploads are not yet served");
}
void s3_list_uploads(struct s3_req *r)
{
	nyi(r);
}
void s3_create_upload(struct s3_req *r)
{
	nyi(r);
}
void s3_upload_part(struct s3_req *r)
{
	nyi(r);
}
void s3_complete_upload(struct s3_req *r)
{
	nyi(r);
}
void s3_abort_upload(struct s3_req *r)
{
	nyi(r);
}
void s3_list_parts(struct s3_req *r)
{
	nyi(r);
}

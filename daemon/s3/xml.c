/* The XML of S3: answers written with escaping, request bodies
 * (DeleteObjects, CompleteMultipartUpload) read with expat. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "s3/s3_i.h"

#define XML_DEPTH_MAX 16
#define XML_TEXT_MAX  (4 * 1024 + 64)

static void add(struct s3_xml *x, const char *s, size_t n)
{
	if (x->fail)
		return;
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *p;

		while (cap < x->len + n + 1)
			cap *= 2;
		p = realloc(x->p, cap);
		if (!p) {
			x->fail = true;
			return;
		}
		x->p = p;
		x->cap = cap;
	}
	memcpy(x->p + x->len, s, n);
	x->len += n;
	x->p[x->len] = 0;
}

void s3_xml_raw(struct s3_xml *x, const char *s)
{
	add(x, s, strlen(s));
}

void s3_xml_text(struct s3_xml *x, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *e = NULL;
		char num[8];
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&apos;";
			break;
		default:
			/* Control characters are not XML 1.0 text, even
			 * escaped; S3 writes them as references anyway,
			 * and so do we (clients that list such names
			 * use EncodingType=url). */
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
				snprintf(num, sizeof(num), "&#x%X;", c);
				e = num;
			}
		}
		if (!e)
			continue;
		add(x, run, (size_t)(s - run));
		add(x, e, strlen(e));
		run = s + 1;
	}
	add(x, run, (size_t)(s - run));
}

void s3_xml_elem(struct s3_xml *x, const char *tag, const char *text)
{
	add(x, "<", 1);
	s3_xml_raw(x, tag);
	add(x, ">", 1);
	s3_xml_text(x, text);
	add(x, "</", 2);
	s3_xml_raw(x, tag);
	add(x, ">", 1);
}

void s3_xml_printf(struct s3_xml *x, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		x->fail = true;
		return;
	}
	add(x, buf, (size_t)n);
}

void s3_xml_free(struct s3_xml *x)
{
	free(x->p);
	memset(x, 0, sizeof(*x));
}

int s3_send_xml(struct s3_req *r, int status, struct s3_xml *x)
{
	int rc;

	if (x->fail) {
		s3_xml_free(x);
		return s3_error(r, 500, "InternalError",
				"out of memory writing the answer");
	}
	rc = s3_send(r, status, NULL, "application/xml", x->p, x->len);
	s3_xml_free(x);
	return rc;
}

/* ---- parsing ---------------------------------------------------------- */

struct parse {
	XML_Parser p;
	void (*start)(void *arg, const char *path);
	void (*elem)(void *arg, const char *path, const char *text);
	void *arg;
	char path[XML_DEPTH_MAX * 64];
	size_t plen[XML_DEPTH_MAX + 1];
	int depth;
	char text[XML_TEXT_MAX];
	size_t tlen;
	bool too_deep, too_long;
};

static void XMLCALL on_start(void *ud, const XML_Char *name,
			     const XML_Char **atts)
{
	struct parse *ps = ud;
	size_t l = ps->plen[ps->depth], n = strlen(name);

	(void)atts;
	if (ps->depth >= XML_DEPTH_MAX || l + n + 2 > sizeof(ps->path)) {
		ps->too_deep = true;
		XML_StopParser(ps->p, XML_FALSE);
		return;
	}
	if (l)
		ps->path[l++] = '/';
	memcpy(ps->path + l, name, n + 1);
	ps->plen[++ps->depth] = l + n;
	ps->tlen = 0;
	if (ps->start)
		ps->start(ps->arg, ps->path);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct parse *ps = ud;

	(void)name;
	/* After a stop in on_start expat may still end that element. */
	if (ps->too_deep || ps->too_long || ps->depth <= 0)
		return;
	ps->text[ps->tlen] = 0;
	ps->elem(ps->arg, ps->path, ps->text);
	ps->tlen = 0;
	ps->depth--;
	ps->path[ps->plen[ps->depth]] = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct parse *ps = ud;

	if (ps->tlen + (size_t)len >= sizeof(ps->text)) {
		ps->too_long = true;
		XML_StopParser(ps->p, XML_FALSE);
		return;
	}
	memcpy(ps->text + ps->tlen, s, (size_t)len);
	ps->tlen += (size_t)len;
}

int s3_xml_parse(const char *body, size_t len,
		 void (*start)(void *arg, const char *path),
		 void (*elem)(void *arg, const char *path, const char *text),
		 void *arg, char *errmsg)
{
	struct parse *ps = calloc(1, sizeof(*ps));
	int rc = 0;

	if (!ps)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	ps->p = XML_ParserCreate("UTF-8");
	if (!ps->p) {
		free(ps);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	ps->start = start;
	ps->elem = elem;
	ps->arg = arg;
	XML_SetUserData(ps->p, ps);
	XML_SetElementHandler(ps->p, on_start, on_end);
	XML_SetCharacterDataHandler(ps->p, on_text);
	if (XML_Parse(ps->p, body, (int)len, XML_TRUE) != XML_STATUS_OK)
		rc = ais_errf(errmsg, -EINVAL, "%s",
			      ps->too_deep ? "XML nested too deep"
			      : ps->too_long
				  ? "XML element text too long"
				  : XML_ErrorString(XML_GetErrorCode(ps->p)));
	XML_ParserFree(ps->p);
	free(ps);
	return rc;
}

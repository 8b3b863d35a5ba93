/* chat_internal.h: chat template internals shared with tests and fuzz targets. */
#ifndef HONE_TOK_CHAT_INTERNAL_H
#define HONE_TOK_CHAT_INTERNAL_H

#include "hone/chat.h"

/* A template from the text of a template file (the format of file:PATH); name is used in errors. */
int chat_template_from_text(hone_chat_template **out, const char *name, const char *text, size_t len,
                            hone_err *err);

#endif

/* The SPDY/3 header compression dictionary (SPDY/3 draft, section 2.6.10.1): 65 header
 * words, each preceded by its length as a 32-bit big-endian number, then a run of common
 * values. 1423 bytes, Adler-32 0xe3c6a7c2 (what zlib checks when inflating). */
#include "stream/spdy_frame.h"

#include <pthread.h>
#include <string.h>

static const char *const dict_words[] = {
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
};

static const char dict_tail[] =
    "10010120120220520630030230330430530630740240540640740840941041141241341441541641"
    "7502504505203 Non-Authoritative Information204 No Content301 Moved Permanently40"
    "0 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
    "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept O"
    "ct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,imag"
    "e/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/"
    "javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1"
    ",utf-,*,enq=0.";

static uint8_t dict[SPDY_DICT_LEN];
static pthread_once_t dict_once = PTHREAD_ONCE_INIT;

static void dict_build(void)
{
    size_t at = 0;
    for (size_t i = 0; i < sizeof(dict_words) / sizeof(dict_words[0]); i++) {
        size_t n = strlen(dict_words[i]);
        uint8_t len[4] = {0, 0, 0, (uint8_t)n};
        memcpy(dict + at, len, 4);
        memcpy(dict + at + 4, dict_words[i], n);
        at += 4 + n;
    }
    memcpy(dict + at, dict_tail, sizeof(dict_tail) - 1);
}

const uint8_t *spdy_dictionary(void)
{
    pthread_once(&dict_once, dict_build);
    return dict;
}

#ifndef CFFMPEG_H
#define CFFMPEG_H
// FFmpeg's function-like macros do not import into Swift; these wrappers expose them.
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/error.h>

int cffmpeg_averror(int posix_error);
int cffmpeg_averror_eof(void);
int64_t cffmpeg_nopts_value(void);
/// Writes FFmpeg's message for `code` into `buffer` (at least 64 bytes).
void cffmpeg_error_string(int code, char *buffer, size_t size);

#endif

#include "CFFmpeg.h"

int cffmpeg_averror(int posix_error) { return AVERROR(posix_error); }
int cffmpeg_averror_eof(void) { return AVERROR_EOF; }
int64_t cffmpeg_nopts_value(void) { return AV_NOPTS_VALUE; }
void cffmpeg_error_string(int code, char *buffer, size_t size) { av_strerror(code, buffer, size); }

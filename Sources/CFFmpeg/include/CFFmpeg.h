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

// MARK: - More error codes (FFERRTAG macros)

int cffmpeg_averror_exit(void);
int cffmpeg_averror_invaliddata(void);
int cffmpeg_averror_decoder_not_found(void);
int cffmpeg_averror_stream_not_found(void);

// MARK: - Interrupt callback

/// A stop flag and a deadline that FFmpeg polls through `AVIOInterruptCB` while it blocks in
/// opens and reads. Both fields are atomics: any thread may request a stop; the owning decode
/// thread arms deadlines. Opaque to Swift.
typedef struct cffmpeg_interrupt cffmpeg_interrupt;

cffmpeg_interrupt *cffmpeg_interrupt_create(void);
void cffmpeg_interrupt_destroy(cffmpeg_interrupt *interrupt);
/// Makes every later poll answer "abort"; permanent.
void cffmpeg_interrupt_request_stop(cffmpeg_interrupt *interrupt);
int cffmpeg_interrupt_stop_requested(const cffmpeg_interrupt *interrupt);
/// Polls answer "abort" once `seconds` (monotonic) have passed from now; `seconds <= 0` disarms.
void cffmpeg_interrupt_arm(cffmpeg_interrupt *interrupt, double seconds);
/// 1 when the armed deadline has passed.
int cffmpeg_interrupt_deadline_passed(const cffmpeg_interrupt *interrupt);
/// 1 once a poll has answered "abort" because of the deadline (not a stop request); sticky until
/// `cffmpeg_interrupt_reset`. FFmpeg may report the abort a call later than it happened (a
/// demuxer flushes its parsers first), when the deadline has been re-armed meanwhile.
int cffmpeg_interrupt_timed_out(const cffmpeg_interrupt *interrupt);
/// Disarms the deadline and clears the timed-out flag (not the stop request).
void cffmpeg_interrupt_reset(cffmpeg_interrupt *interrupt);
/// The callback to store in `AVFormatContext.interrupt_callback`.
AVIOInterruptCB cffmpeg_interrupt_callback(cffmpeg_interrupt *interrupt);
/// Seconds on the monotonic clock.
double cffmpeg_monotonic_seconds(void);

// MARK: - Devices

/// Loads libavdevice at run time (dlopen, once) and registers its input devices (v4l2) with
/// libavformat. Returns 1 when the devices are available. The package links no libavdevice
/// (no -dev package here); hosts that serve cameras have its runtime library with ffmpeg.
int cffmpeg_load_devices(void);

// MARK: - Scaling

/// A swscale context set up the way FFmpeg 5.1's scale filter sets one up for a frame with these
/// properties (the path `ffmpeg -vf scale=W:H:flags=... -pix_fmt ...` takes), so output matches
/// the CLI byte for byte: yuvj* formats map to their yuv* twin with full-range input, and the
/// YCbCr matrix comes from the frame's colorspace ("auto"). Returns NULL on failure.
struct SwsContext *cffmpeg_sws_create(int src_w, int src_h, int src_format, int src_colorspace,
                                      int src_color_range, int dst_w, int dst_h, int dst_format,
                                      int flags);
/// Scales `frame` into `dst` (its planes and strides as `av_image_alloc` gives them).
int cffmpeg_sws_scale_frame(struct SwsContext *context, const AVFrame *frame,
                            uint8_t *const dst_data[4], const int dst_linesize[4]);

// MARK: - Logging

void cffmpeg_set_log_level(int level);

#endif

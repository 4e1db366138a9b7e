#include "CFFmpeg.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

int cffmpeg_averror(int posix_error) { return AVERROR(posix_error); }
int cffmpeg_averror_eof(void) { return AVERROR_EOF; }
int64_t cffmpeg_nopts_value(void) { return AV_NOPTS_VALUE; }
void cffmpeg_error_string(int code, char *buffer, size_t size) { av_strerror(code, buffer, size); }

int cffmpeg_averror_exit(void) { return AVERROR_EXIT; }
int cffmpeg_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
int cffmpeg_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
int cffmpeg_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }

// MARK: - Interrupt callback

struct cffmpeg_interrupt {
    atomic_int stop;
    _Atomic int64_t deadline_ns; // 0: disarmed
    atomic_int timed_out;
};

static int64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double cffmpeg_monotonic_seconds(void) { return (double)monotonic_ns() / 1e9; }

cffmpeg_interrupt *cffmpeg_interrupt_create(void) {
    cffmpeg_interrupt *interrupt = malloc(sizeof *interrupt);
    if (!interrupt) return NULL;
    atomic_init(&interrupt->stop, 0);
    atomic_init(&interrupt->deadline_ns, 0);
    atomic_init(&interrupt->timed_out, 0);
    return interrupt;
}

void cffmpeg_interrupt_destroy(cffmpeg_interrupt *interrupt) { free(interrupt); }

void cffmpeg_interrupt_request_stop(cffmpeg_interrupt *interrupt) {
    atomic_store(&interrupt->stop, 1);
}

int cffmpeg_interrupt_stop_requested(const cffmpeg_interrupt *interrupt) {
    return atomic_load(&((cffmpeg_interrupt *)interrupt)->stop);
}

void cffmpeg_interrupt_arm(cffmpeg_interrupt *interrupt, double seconds) {
    int64_t deadline = seconds > 0 ? monotonic_ns() + (int64_t)(seconds * 1e9) : 0;
    atomic_store(&interrupt->deadline_ns, deadline);
}

int cffmpeg_interrupt_deadline_passed(const cffmpeg_interrupt *interrupt) {
    int64_t deadline = atomic_load(&((cffmpeg_interrupt *)interrupt)->deadline_ns);
    return deadline != 0 && monotonic_ns() >= deadline;
}

int cffmpeg_interrupt_timed_out(const cffmpeg_interrupt *interrupt) {
    return atomic_load(&((cffmpeg_interrupt *)interrupt)->timed_out);
}

void cffmpeg_interrupt_reset(cffmpeg_interrupt *interrupt) {
    atomic_store(&interrupt->deadline_ns, 0);
    atomic_store(&interrupt->timed_out, 0);
}

static int interrupt_poll(void *opaque) {
    cffmpeg_interrupt *interrupt = opaque;
    if (cffmpeg_interrupt_stop_requested(interrupt)) return 1;
    if (cffmpeg_interrupt_deadline_passed(interrupt)) {
        atomic_store(&interrupt->timed_out, 1);
        return 1;
    }
    return 0;
}

AVIOInterruptCB cffmpeg_interrupt_callback(cffmpeg_interrupt *interrupt) {
    AVIOInterruptCB callback = { interrupt_poll, interrupt };
    return callback;
}

// MARK: - Devices

static pthread_once_t devices_once = PTHREAD_ONCE_INIT;
static int devices_loaded = 0;

static void load_devices(void) {
    static const char *const names[] = { "libavdevice.so.59", "libavdevice.so" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *library = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
        if (!library) continue;
        void (*register_all)(void) = (void (*)(void))dlsym(library, "avdevice_register_all");
        if (register_all) {
            register_all();
            devices_loaded = 1;
            return;
        }
    }
}

int cffmpeg_load_devices(void) {
    pthread_once(&devices_once, load_devices);
    return devices_loaded;
}

// MARK: - Scaling

/// The yuvj formats swscale deprecates, mapped to their twins (full range is set explicitly).
static int unjpeg_format(int format, int *full_range) {
    switch (format) {
    case AV_PIX_FMT_YUVJ420P: *full_range = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = 1; return AV_PIX_FMT_YUV411P;
    default: return format;
    }
}

/// vf_scale's parse_yuv_type for in_color_matrix="auto".
static const int *coefficients_for(int colorspace) {
    if (colorspace < 1 || colorspace > 10 || colorspace == 8) colorspace = AVCOL_SPC_BT470BG;
    return sws_getCoefficients(colorspace);
}

struct SwsContext *cffmpeg_sws_create(int src_w, int src_h, int src_format, int src_colorspace,
                                      int src_color_range, int dst_w, int dst_h, int dst_format,
                                      int flags) {
    int jpeg_range = 0;
    int format = unjpeg_format(src_format, &jpeg_range);
    struct SwsContext *context = sws_alloc_context();
    if (!context) return NULL;
    av_opt_set_int(context, "srcw", src_w, 0);
    av_opt_set_int(context, "srch", src_h, 0);
    av_opt_set_int(context, "src_format", format, 0);
    av_opt_set_int(context, "dstw", dst_w, 0);
    av_opt_set_int(context, "dsth", dst_h, 0);
    av_opt_set_int(context, "dst_format", dst_format, 0);
    av_opt_set_int(context, "sws_flags", flags, 0);
    if (jpeg_range) av_opt_set_int(context, "src_range", 1, 0);
    if (sws_init_context(context, NULL, NULL) < 0) {
        sws_freeContext(context);
        return NULL;
    }

    // What vf_scale's scale_frame does for every frame (in_color_matrix "auto").
    int *inv_table, *table, in_full, out_full, brightness, contrast, saturation;
    if (sws_getColorspaceDetails(context, &inv_table, &in_full, &table, &out_full, &brightness,
                                 &contrast, &saturation) >= 0) {
        const int *coefficients = coefficients_for(src_colorspace);
        if (jpeg_range)
            in_full = 1;
        else if (src_color_range != AVCOL_RANGE_UNSPECIFIED)
            in_full = src_color_range == AVCOL_RANGE_JPEG;
        sws_setColorspaceDetails(context, coefficients, in_full, coefficients, out_full,
                                 brightness, contrast, saturation);
    }
    return context;
}

int cffmpeg_sws_scale_frame(struct SwsContext *context, const AVFrame *frame,
                            uint8_t *const dst_data[4], const int dst_linesize[4]) {
    return sws_scale(context, (const uint8_t *const *)frame->data, frame->linesize, 0,
                     frame->height, dst_data, dst_linesize);
}

// MARK: - Logging

void cffmpeg_set_log_level(int level) { av_log_set_level(level); }

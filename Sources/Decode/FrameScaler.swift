import CFFmpeg

/// Converts decoded frames to packed RGB24 at a fixed output size with swscale's bilinear
/// filter, exactly as `ffmpeg -vf scale=W:H:flags=bilinear -pix_fmt rgb24` does.
///
/// The swscale context is rebuilt when a frame's size, pixel format, colorspace or range
/// differs from the previous one (streams may change resolution mid-flight). Output goes
/// through an aligned scratch image, as in the CLI's filter graph, and is then copied into a
/// tightly packed array. Not thread-safe: one scaler per decode thread.
final class FrameScaler {
    let width: Int
    let height: Int
    private var context: OpaquePointer?
    private var key: Key?
    private var scratch: (data: [UnsafeMutablePointer<UInt8>?], linesize: [Int32])

    private struct Key: Equatable {
        var width, height, format, colorspace, range: Int32
    }

    /// - Precondition: `width` and `height` are positive (callers validate user input).
    init(width: Int, height: Int) {
        precondition(width > 0 && height > 0, "FrameScaler needs a positive output size")
        self.width = width
        self.height = height
        var data = [UnsafeMutablePointer<UInt8>?](repeating: nil, count: 4)
        var linesize = [Int32](repeating: 0, count: 4)
        let size = av_image_alloc(&data, &linesize, Int32(width), Int32(height), AV_PIX_FMT_RGB24, 64)
        precondition(size >= 0, "out of memory allocating a \(width)x\(height) RGB24 image")
        scratch = (data, linesize)
    }

    deinit {
        sws_freeContext(context)
        av_free(scratch.data[0])
    }

    /// The frame's pixels as RGB24, `width * height * 3` bytes, or `nil` when swscale cannot
    /// convert its pixel format.
    func scale(_ frame: UnsafePointer<AVFrame>) -> [UInt8]? {
        let f = frame.pointee
        let frameKey = Key(
            width: f.width, height: f.height, format: f.format,
            colorspace: Int32(f.colorspace.rawValue), range: Int32(f.color_range.rawValue))
        if frameKey != key {
            sws_freeContext(context)
            key = nil
            context = cffmpeg_sws_create(
                f.width, f.height, f.format, frameKey.colorspace, frameKey.range,
                Int32(width), Int32(height), AV_PIX_FMT_RGB24.rawValue, SWS_BILINEAR)
            guard context != nil else { return nil }
            key = frameKey
        }
        let lines = cffmpeg_sws_scale_frame(context, frame, scratch.data, scratch.linesize)
        guard lines == Int32(height), let source = scratch.data[0] else { return nil }
        let rowBytes = width * 3
        let stride = Int(scratch.linesize[0])
        return [UInt8](unsafeUninitializedCapacity: rowBytes * height) { buffer, count in
            for row in 0..<height {
                (buffer.baseAddress! + row * rowBytes)
                    .update(from: source + row * stride, count: rowBytes)
            }
            count = rowBytes * height
        }
    }
}

import CFFmpeg
import Foundation

/// Encodes RGB24 pictures as PNG files with FFmpeg's PNG encoder (for `detect --draw`).
public enum PNGWriter {
    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Writes `rgb` (`width` × `height` × 3 bytes, rows top to bottom) to `path`, replacing it.
    public static func write(rgb: [UInt8], width: Int, height: Int, to path: String) throws(Error) {
        func failure(_ reason: String) -> Error { Error(path: path, reason: reason) }
        guard width > 0, height > 0, width <= 16384, height <= 16384, rgb.count == width * height * 3 else {
            throw failure("invalid picture \(width)x\(height) with \(rgb.count) bytes")
        }
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_PNG) else { throw failure("FFmpeg has no PNG encoder") }
        var context = avcodec_alloc_context3(codec)
        var frame = av_frame_alloc()
        var packet = av_packet_alloc()
        defer {
            av_packet_free(&packet)
            av_frame_free(&frame)
            avcodec_free_context(&context)
        }
        guard let context, let frame, let packet else { throw failure("out of memory") }
        context.pointee.width = Int32(width)
        context.pointee.height = Int32(height)
        context.pointee.pix_fmt = AV_PIX_FMT_RGB24
        context.pointee.time_base = AVRational(num: 1, den: 1)
        var status = avcodec_open2(context, codec, nil)
        guard status >= 0 else { throw failure("cannot open the PNG encoder: \(FFmpeg.message(status))") }
        frame.pointee.format = AV_PIX_FMT_RGB24.rawValue
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        status = av_frame_get_buffer(frame, 0)
        guard status >= 0, let planes = frame.pointee.data.0 else { throw failure("out of memory") }
        let stride = Int(frame.pointee.linesize.0)
        rgb.withUnsafeBufferPointer { source in
            for row in 0..<height {
                (planes + row * stride).update(from: source.baseAddress! + row * width * 3, count: width * 3)
            }
        }
        status = avcodec_send_frame(context, frame)
        if status >= 0 { status = avcodec_send_frame(context, nil) }
        guard status >= 0 else { throw failure("PNG encoding failed: \(FFmpeg.message(status))") }
        var encoded = Data()
        while avcodec_receive_packet(context, packet) >= 0 {
            encoded.append(packet.pointee.data, count: Int(packet.pointee.size))
            av_packet_unref(packet)
        }
        guard !encoded.isEmpty else { throw failure("PNG encoding produced no data") }
        do {
            try encoded.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw failure("cannot write: \(error.localizedDescription.oneLine)")
        }
    }
}

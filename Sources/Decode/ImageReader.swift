import CFFmpeg
import Foundation

/// An image decoded and resized to a model's input size.
public struct DecodedImage: Sendable, Equatable {
    /// Size of the image as stored.
    public let sourceWidth: Int
    public let sourceHeight: Int
    /// Size of `rgb`.
    public let width: Int
    public let height: Int
    /// Packed RGB24, row-major, `width * height * 3` bytes.
    public let rgb: [UInt8]

    public init(sourceWidth: Int, sourceHeight: Int, width: Int, height: Int, rgb: [UInt8]) {
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.width = width
        self.height = height
        self.rgb = rgb
    }
}

/// Reads still images (JPEG, PNG, BMP, WebP, ... — anything FFmpeg decodes; for a video file,
/// its first frame) through libavformat/libavcodec and resizes them with swscale's bilinear
/// filter into RGB24. The output equals, byte for byte,
/// `ffmpeg -v error -i IMG -vf scale=W:H:flags=bilinear -pix_fmt rgb24 -f rawvideo -`
/// (FrameScaler sets swscale up as FFmpeg 5.1's scale filter does). Safe to call from several
/// threads at once: every call has its own FFmpeg contexts.
public enum ImageReader {
    /// Why an image could not be read. `description` is one line naming the file.
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            /// No file at the path.
            case missingFile
            /// The file exists but cannot be read (permissions, a directory).
            case unreadable
            /// FFmpeg recognises no image (or video) format in it.
            case notAnImage
            /// A media file without pictures (audio only, say).
            case noVideoStream
            /// Recognised, but the picture data does not decode.
            case corrupt
            /// Invalid arguments (the output size).
            case invalidArgument
        }
        public let path: String
        public let kind: Kind
        /// One line, without the path.
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Decodes the image at `path` and scales it to `width` × `height` RGB24.
    public static func read(path: String, width: Int, height: Int) throws(Error) -> DecodedImage {
        func error(_ kind: Error.Kind, _ reason: String) -> Error {
            Error(path: path, kind: kind, reason: reason)
        }
        guard width > 0, height > 0, width <= 16384, height <= 16384 else {
            throw error(.invalidArgument, "invalid output size \(width)x\(height)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw error(.missingFile, "no such file")
        }
        if isDirectory.boolValue { throw error(.unreadable, "is a directory, not an image") }

        let input: VideoInput
        do {
            input = try VideoInput(
                url: "file:" + path,
                settings: .init(
                    whitelist: SourceKind.file.protocolWhitelist,
                    // The name is a name, not an image-sequence pattern ("100%.jpg").
                    options: ["pattern_type": "none"], findStreamInfo: false, rejectUnusedOptions: false),
                interrupt: nil)
        } catch {
            switch error.kind {
            case .notFound: throw Self.Error(path: path, kind: .missingFile, reason: "no such file")
            case .notReadable: throw Self.Error(path: path, kind: .unreadable, reason: "cannot read: \(error.reason)")
            case .invalidData: throw Self.Error(path: path, kind: .notAnImage, reason: "not an image FFmpeg can read (\(error.reason))")
            case .noVideoStream: throw Self.Error(path: path, kind: .noVideoStream, reason: "no video stream (not an image)")
            case .noDecoder: throw Self.Error(path: path, kind: .corrupt, reason: error.reason)
            default: throw Self.Error(path: path, kind: .corrupt, reason: error.reason)
            }
        }
        // The "tty" demuxer renders any text file as ANSI art; a text file is not an image.
        if input.formatName == "tty" { throw error(.notAnImage, "not an image (a text file)") }

        guard let frame = decodeFirstFrame(input) else {
            throw error(.corrupt, "corrupt or truncated image data (\(input.codecName))")
        }
        let scaler = FrameScaler(width: width, height: height)
        guard let rgb = scaler.scale(frame) else {
            throw error(.corrupt, "cannot convert pixel format \(pixelFormatName(frame.pointee.format)) to RGB24")
        }
        return DecodedImage(
            sourceWidth: Int(frame.pointee.width), sourceHeight: Int(frame.pointee.height),
            width: width, height: height, rgb: rgb)
    }

    /// Feeds packets until the decoder returns a picture; drains it at end of file.
    private static func decodeFirstFrame(_ input: VideoInput) -> UnsafePointer<AVFrame>? {
        guard let format = input.format, let codec = input.codec else { return nil }
        var draining = false
        while true {
            if !draining {
                let read = av_read_frame(format, input.packet)
                if read < 0 {
                    draining = true
                    avcodec_send_packet(codec, nil)
                } else {
                    defer { av_packet_unref(input.packet) }
                    if input.packet.pointee.stream_index != input.streamIndex { continue }
                    if avcodec_send_packet(codec, input.packet) < 0 { continue }
                }
            }
            let received = avcodec_receive_frame(codec, input.frame)
            if received >= 0 { return UnsafePointer(input.frame) }
            if received != FFmpeg.again { return nil }  // end of stream or a decode error
            if draining { return nil }
        }
    }

    private static func pixelFormatName(_ format: Int32) -> String {
        guard let name = av_get_pix_fmt_name(AVPixelFormat(rawValue: format)) else { return "#\(format)" }
        return String(cString: name)
    }
}

import CFFmpeg
import Foundation

/// Why an input could not be opened or decoded; internal, mapped onto `ImageReader.Error`
/// and onto `down` reasons.
struct InputFailure: Error {
    enum Kind { case notFound, notReadable, invalidData, noVideoStream, noDecoder, timedOut, stopped, other }
    let kind: Kind
    /// One line, without the URL.
    let reason: String
}

/// An opened demuxer with its best video stream and an opened decoder for it.
/// Owned by one thread; frees everything on deinit.
final class VideoInput {
    private(set) var format: UnsafeMutablePointer<AVFormatContext>?
    private(set) var codec: UnsafeMutablePointer<AVCodecContext>?
    let streamIndex: Int32
    let stream: UnsafeMutablePointer<AVStream>
    let packet: UnsafeMutablePointer<AVPacket>
    let frame: UnsafeMutablePointer<AVFrame>

    struct Settings {
        var whitelist: String
        /// Demuxer to force (`v4l2`); nil lets FFmpeg probe.
        var inputFormat: String?
        var options: [String: String] = [:]
        /// Seconds allowed for open and stream probing; 0 means no limit.
        var openTimeout: Double = 0
        /// Probe packets for codec parameters (needed for live streams; images need not).
        var findStreamInfo = true
        var decoderThreads = 1
        /// Fail when an option in `options` is used by no component (a typo in a config).
        var rejectUnusedOptions = true
        /// Reads return EAGAIN instead of blocking where the demuxer supports it (V4L2, whose
        /// blocking reads do not poll the interrupt callback).
        var nonBlocking = false
    }

    /// Opens `url`. `interrupt`, when given, is installed as the interrupt callback and armed
    /// with `settings.openTimeout` for the duration of the open.
    init(url: String, settings: Settings, interrupt: OpaquePointer?) throws(InputFailure) {
        _ = FFmpeg.networkInitialized

        var context = avformat_alloc_context()
        guard context != nil else { throw InputFailure(kind: .other, reason: "out of memory") }
        if let interrupt {
            context!.pointee.interrupt_callback = cffmpeg_interrupt_callback(interrupt)
            cffmpeg_interrupt_reset(interrupt)
            cffmpeg_interrupt_arm(interrupt, settings.openTimeout)
        }
        if settings.nonBlocking { context!.pointee.flags |= AVFMT_FLAG_NONBLOCK }
        func interruptedFailure(_ what: String) -> InputFailure? {
            guard let interrupt else { return nil }
            if cffmpeg_interrupt_stop_requested(interrupt) != 0 {
                return InputFailure(kind: .stopped, reason: "stopped")
            }
            if cffmpeg_interrupt_timed_out(interrupt) != 0 || cffmpeg_interrupt_deadline_passed(interrupt) != 0 {
                return InputFailure(kind: .timedOut, reason: "timed out after \(Self.seconds(settings.openTimeout)) \(what)")
            }
            return nil
        }

        var dictionary: OpaquePointer?
        defer { av_dict_free(&dictionary) }
        av_dict_set(&dictionary, "protocol_whitelist", settings.whitelist, 0)
        for (key, value) in settings.options.sorted(by: { $0.key < $1.key }) {
            av_dict_set(&dictionary, key, value, 0)
        }
        var inputFormat: UnsafePointer<AVInputFormat>?
        if let name = settings.inputFormat {
            if name == "v4l2", !FFmpeg.devicesAvailable {
                avformat_free_context(context)
                throw InputFailure(kind: .other, reason: "V4L2 capture unavailable: libavdevice could not be loaded")
            }
            inputFormat = av_find_input_format(name)
            if inputFormat == nil {
                avformat_free_context(context)
                throw InputFailure(kind: .other, reason: "FFmpeg has no '\(name)' input format")
            }
        }

        let opened = avformat_open_input(&context, url, inputFormat, &dictionary)
        guard opened >= 0, let format = context else {
            // avformat_open_input frees the context on failure.
            if let failure = interruptedFailure("opening") { throw failure }
            throw Self.openFailure(opened)
        }
        var unused: [String] = []
        var entry: UnsafeMutablePointer<AVDictionaryEntry>?
        while let next = av_dict_get(dictionary, "", entry, AV_DICT_IGNORE_SUFFIX) {
            unused.append(String(cString: next.pointee.key))
            entry = next
        }
        // From here on, deinit-style cleanup on every failure path.
        var input: (format: UnsafeMutablePointer<AVFormatContext>?, codec: UnsafeMutablePointer<AVCodecContext>?) = (format, nil)
        func fail(_ failure: InputFailure) -> InputFailure {
            avcodec_free_context(&input.codec)
            avformat_close_input(&input.format)
            return failure
        }
        if settings.rejectUnusedOptions && !unused.isEmpty {
            throw fail(InputFailure(kind: .other, reason: "option(s) not recognised by the '\(String(cString: format.pointee.iformat.pointee.name))' input: \(unused.joined(separator: ", "))"))
        }

        var index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        if settings.findStreamInfo || index < 0 {
            let probed = avformat_find_stream_info(format, nil)
            if let failure = interruptedFailure("probing the stream") { throw fail(failure) }
            if probed < 0 {
                throw fail(InputFailure(kind: .invalidData, reason: "cannot read stream parameters: \(FFmpeg.message(probed))"))
            }
            index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        }
        guard index >= 0 else {
            throw fail(InputFailure(kind: .noVideoStream, reason: "no video stream"))
        }
        let stream = format.pointee.streams[Int(index)]!
        for i in 0..<Int(format.pointee.nb_streams) where i != Int(index) {
            format.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }
        let parameters = stream.pointee.codecpar!
        guard let decoder = avcodec_find_decoder(parameters.pointee.codec_id) else {
            let name = String(cString: avcodec_get_name(parameters.pointee.codec_id))
            throw fail(InputFailure(kind: .noDecoder, reason: "no decoder for codec '\(name)'"))
        }
        input.codec = avcodec_alloc_context3(decoder)
        guard let codec = input.codec else { throw fail(InputFailure(kind: .other, reason: "out of memory")) }
        var status = avcodec_parameters_to_context(codec, parameters)
        codec.pointee.pkt_timebase = stream.pointee.time_base
        codec.pointee.thread_count = Int32(max(0, settings.decoderThreads))
        if status >= 0 { status = avcodec_open2(codec, decoder, nil) }
        guard status >= 0 else {
            throw fail(InputFailure(kind: .noDecoder, reason: "cannot open the \(String(cString: decoder.pointee.name)) decoder: \(FFmpeg.message(status))"))
        }
        guard let packet = av_packet_alloc(), let frame = av_frame_alloc() else {
            throw fail(InputFailure(kind: .other, reason: "out of memory"))
        }
        self.format = format
        self.codec = codec
        self.streamIndex = index
        self.stream = stream
        self.packet = packet
        self.frame = frame
        if let interrupt { cffmpeg_interrupt_reset(interrupt) }
    }

    deinit {
        var packet: UnsafeMutablePointer<AVPacket>? = packet
        var frame: UnsafeMutablePointer<AVFrame>? = frame
        av_packet_free(&packet)
        av_frame_free(&frame)
        avcodec_free_context(&codec)
        avformat_close_input(&format)
    }

    /// The demuxer's short name (`mov,mp4,m4a,3gp,3g2,mj2`, `image2`, `rtsp`, ...).
    var formatName: String { String(cString: format!.pointee.iformat.pointee.name) }
    var codecName: String { String(cString: avcodec_get_name(stream.pointee.codecpar.pointee.codec_id)) }
    var timeBase: AVRational { stream.pointee.time_base }

    /// Frames per second the container declares (average, else real base rate).
    var frameRate: Double? {
        if let rate = stream.pointee.avg_frame_rate.seconds, rate > 0, rate < 1000 { return rate }
        if let rate = stream.pointee.r_frame_rate.seconds, rate > 0, rate < 1000 { return rate }
        return nil
    }

    /// Duration in seconds, when the container knows it.
    var duration: Double? {
        let d = format!.pointee.duration
        return d > 0 && d != FFmpeg.noPTS ? Double(d) / Double(AV_TIME_BASE) : nil
    }

    /// Presentation time of the decoded frame in seconds, nil when it has none.
    func seconds(ofTimestamp timestamp: Int64) -> Double? {
        guard timestamp != FFmpeg.noPTS, let unit = timeBase.seconds else { return nil }
        return Double(timestamp) * unit
    }

    private static func openFailure(_ code: Int32) -> InputFailure {
        let message = FFmpeg.message(code)
        switch code {
        case cffmpeg_averror(ENOENT): return InputFailure(kind: .notFound, reason: message)
        case cffmpeg_averror(EACCES), cffmpeg_averror(EISDIR):
            return InputFailure(kind: .notReadable, reason: message)
        case FFmpeg.invalidData: return InputFailure(kind: .invalidData, reason: message)
        default: return InputFailure(kind: .other, reason: message)
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) + " s" : String(format: "%.1f s", value)
    }
}

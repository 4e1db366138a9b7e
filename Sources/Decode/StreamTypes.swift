/// How a `VideoSource` opens, paces and recovers its input.
public struct StreamOptions: Sendable, Equatable {
    /// Transport for RTSP media.
    public enum RTSPTransport: String, Sendable, Equatable {
        case tcp, udp
    }

    /// Output size of every frame (the model's input), RGB24.
    public var width: Int
    public var height: Int
    /// RTSP transport; TCP (interleaved) by default, which survives NAT and loss.
    public var rtspTransport: RTSPTransport = .tcp
    /// Finite sources only (files, and recordings served over HTTP or RTSP whose length is
    /// known): deliver frames at the source's own rate (by pts) instead of as fast as possible.
    /// Live sources are paced by their producer.
    public var realtime = false
    /// Finite sources only: start again from the beginning at the end instead of ending.
    public var loop = false
    /// Reconnect after a failure; `nil` means yes for network and device sources, no for files.
    public var reconnect: Bool?
    /// Reconnect delays grow from `backoffMin` to `backoffMax` seconds, doubling per attempt.
    public var backoffMin = 0.5
    public var backoffMax = 30.0
    /// Each delay is spread by ± this fraction (0 ... 1) so cameras on one network do not
    /// reconnect in lockstep.
    public var backoffJitter = 0.25
    /// Give up after this many consecutive failed attempts; `nil` retries forever.
    public var maxReconnectAttempts: Int?
    /// Seconds allowed for opening and probing a source.
    public var openTimeout = 10.0
    /// Seconds without a decoded frame after which the source counts as stalled and reconnects.
    public var stallTimeout = 10.0
    /// Decoder threads; 0 lets FFmpeg choose.
    public var decoderThreads = 1
    /// Drop frames the decoder marks corrupt (concealed after packet loss) instead of
    /// delivering them; each counts as a decode error.
    public var dropCorruptFrames = true
    /// Overrides the kind's protocol whitelist (see `SourceKind.protocolWhitelist`).
    public var protocolWhitelist: String?
    /// Extra options for the demuxer and protocol (`avformat_open_input`), e.g. for V4L2
    /// `video_size=1280x720`, `framerate=30`, `input_format=mjpeg`. An option no component
    /// recognises makes the open fail with a reason that names it.
    public var formatOptions: [String: String] = [:]

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// Problems with these options, one line each, naming the field; empty when valid.
    public var problems: [String] {
        var problems: [String] = []
        if !(1...16384).contains(width) { problems.append("width: \(width) is not in 1...16384") }
        if !(1...16384).contains(height) { problems.append("height: \(height) is not in 1...16384") }
        if !(backoffMin > 0) { problems.append("backoffMin: must be > 0") }
        if !(backoffMax >= backoffMin) { problems.append("backoffMax: must be >= backoffMin") }
        if !(0...1).contains(backoffJitter) { problems.append("backoffJitter: must be in 0...1") }
        if let max = maxReconnectAttempts, max < 0 { problems.append("maxReconnectAttempts: must be >= 0") }
        if !(openTimeout > 0) { problems.append("openTimeout: must be > 0") }
        if !(stallTimeout > 0) { problems.append("stallTimeout: must be > 0") }
        if decoderThreads < 0 { problems.append("decoderThreads: must be >= 0") }
        return problems
    }
}

/// What a source turned out to be once open; sent with every `up` event.
public struct StreamInfo: Sendable, Equatable {
    /// The source URL with credentials masked.
    public let url: String
    public let kind: SourceKind
    /// FFmpeg's demuxer name (`mov,mp4,m4a,3gp,3g2,mj2`, `rtsp`, `mpegts`, `video4linux2,v4l2`).
    public let container: String
    /// FFmpeg's codec name (`h264`, `hevc`, `mjpeg`, ...).
    public let codec: String
    public let sourceWidth: Int
    public let sourceHeight: Int
    /// Frames per second the container declares, if any.
    public let frameRate: Double?
    /// Seconds, for sources that know their length.
    public let duration: Double?

    public init(url: String, kind: SourceKind, container: String, codec: String, sourceWidth: Int,
                sourceHeight: Int, frameRate: Double?, duration: Double?) {
        self.url = url
        self.kind = kind
        self.container = container
        self.codec = codec
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.frameRate = frameRate
        self.duration = duration
    }
}

/// One decoded picture, scaled for the model.
public struct DecodedFrame: Sendable {
    /// 0, 1, 2, ... over the life of the source (across reconnects and loops); never repeats.
    public let index: Int
    /// Presentation time in seconds on the stream's clock; `nil` when the stream has none.
    /// It restarts with each loop of a file and may jump after a reconnect.
    public let pts: Double?
    /// Size of the picture as decoded (boxes map back to it).
    public let sourceWidth: Int
    public let sourceHeight: Int
    /// Size of `rgb` (the requested model size).
    public let width: Int
    public let height: Int
    /// Packed RGB24, row-major, `width * height * 3` bytes.
    public let rgb: [UInt8]
    /// Seconds spent decoding and scaling this frame (from handing its packet to the decoder,
    /// or from the previous frame out of the same packet, to the end of scaling).
    public let decodeLatency: Double

    /// For tests and synthetic sources; `rgb` must hold `width * height * 3` bytes.
    public init(index: Int, pts: Double?, sourceWidth: Int, sourceHeight: Int, width: Int, height: Int,
                rgb: [UInt8], decodeLatency: Double) {
        precondition(rgb.count == width * height * 3, "DecodedFrame: rgb is not width * height * 3 bytes")
        self.index = index
        self.pts = pts
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.width = width
        self.height = height
        self.rgb = rgb
        self.decodeLatency = decodeLatency
    }
}

/// What a source reports, in order, on its decode thread.
public enum StreamEvent: Sendable {
    /// The source is open and decoding (again, after a reconnect).
    case up(StreamInfo)
    case frame(DecodedFrame)
    /// The source failed or was lost; one line, without the URL.
    case down(reason: String)
    /// The next attempt starts after `delay` seconds.
    case reconnecting(attempt: Int, delay: Double)
    /// Nothing more will come: end of file, or the source gave up. Always the last event,
    /// unless `stop()` ended the source first.
    case ended
}

/// Running totals for one source; read them at any time.
public struct StreamCounters: Sendable, Equatable {
    /// Frames delivered.
    public var framesDecoded = 0
    /// Packets the decoder rejected, decoder failures and dropped corrupt frames.
    public var decodeErrors = 0
    /// Reconnect attempts made.
    public var reconnects = 0

    public init() {}
}

import Decode
import Foundation

/// The daemon's configuration: one JSON file (see `systemd/qrt-detr.json` and
/// `ConfigParser` for every field, its default and its limits).
///
/// Values are plain and `Equatable`, so a reload can tell exactly which streams changed.
struct DaemonConfig: Equatable, Sendable {
    var model: ModelConfig
    var streams: [StreamConfig]
    var sinks: [SinkConfig]
    /// nil: no metrics/health server.
    var metrics: MetricsConfig?
    /// Where persistent state goes; nil when neither the config nor `$STATE_DIRECTORY` names one.
    var stateDirectory: String?
    var logLevel: LogLevel
    /// How long SIGTERM may take to drain queues and sinks before the daemon exits anyway.
    var shutdownTimeout: Double

    static let currentVersion = 1
}

struct ModelConfig: Equatable, Sendable {
    /// Directory with `config.json` and `model.safetensors` (Hugging Face layout, FP32), or a
    /// `.qrt` artifact (INT8).
    var path: String
    /// The `model.id` written in every record; defaults to the directory's name.
    var id: String
    /// Square input size, a multiple of 32.
    var inputSize: Int
    var scoreThreshold: Float
    var threads: Int
}

struct StreamConfig: Equatable, Sendable {
    enum QueuePolicy: String, Equatable, Sendable {
        /// Live sources: when the queue is full the oldest frame is dropped (and counted).
        case dropOldest = "drop-oldest"
        /// Files: the decoder waits for room, so no frame is lost.
        case block
    }

    enum RTSPTransport: String, Equatable, Sendable { case tcp, udp }

    var id: String
    var url: String
    var kind: SourceKind
    var enabled: Bool
    var queueCapacity: Int
    var queuePolicy: QueuePolicy
    /// Files only: pace frames at the file's own rate instead of as fast as the detector goes.
    var realtime: Bool
    /// Files only: start again from the beginning at the end of the file.
    var loop: Bool
    /// rtsp only.
    var rtspTransport: RTSPTransport
    /// Seconds allowed for connecting and probing.
    var openTimeout: Double
    /// No frame for this long on a live source ⇒ reconnect.
    var stallTimeout: Double
    var reconnectInitialDelay: Double
    var reconnectMaxDelay: Double
    /// FFmpeg decoder threads (0: FFmpeg decides).
    var decoderThreads: Int
    /// Extra demuxer/protocol options, e.g. V4L2 `video_size`, `framerate`, `input_format`.
    var formatOptions: [String: String]
    /// Overrides the model's threshold for this stream.
    var scoreThreshold: Float?
}

enum SinkConfig: Equatable, Sendable {
    case stdout
    case file(FileSinkConfig)
    case mqtt(MQTTSinkConfig)

    var name: String {
        switch self {
        case .stdout: "stdout"
        case .file: "file"
        case .mqtt: "mqtt"
        }
    }
}

struct FileSinkConfig: Equatable, Sendable {
    var path: String
    /// Rotate once the file would grow past this many bytes.
    var maxBytes: Int
    /// Rotated files kept (`path.1` … `path.N`); 0 truncates in place.
    var keep: Int
}

struct MQTTSinkConfig: Equatable, Sendable {
    var host: String
    var port: Int
    /// Topic template; `{stream}` becomes the stream id.
    var topic: String
    var qos: Int
    var clientID: String?
    var keepalive: Int
    /// Messages waiting for the broker (not yet acknowledged) beyond which new ones are dropped.
    var maxQueued: Int
    var username: String?
    var passwordFile: String?
    var reconnectMaxDelay: Int

    func topic(forStream stream: String) -> String {
        topic.replacingOccurrences(of: "{stream}", with: stream)
    }
}

struct MetricsConfig: Equatable, Sendable {
    /// A numeric IPv4 or IPv6 address; 127.0.0.1 by default.
    var bind: String
    var port: Int
}

enum LogLevel: String, Comparable, Sendable, CaseIterable {
    case error, warning, info, debug

    private var rank: Int {
        switch self {
        case .error: 0
        case .warning: 1
        case .info: 2
        case .debug: 3
        }
    }

    static func < (a: LogLevel, b: LogLevel) -> Bool { a.rank < b.rank }
}

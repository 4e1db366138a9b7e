import Foundation
import CFFmpeg

/// Process-wide FFmpeg settings and the small helpers every decoder in this module shares.
public enum FFmpeg {
    /// FFmpeg's own log verbosity (its messages go to stderr).
    public enum LogLevel: Sendable {
        case quiet, error, warning, info

        var rawValue: Int32 {
            switch self {
            case .quiet: -8  // AV_LOG_QUIET
            case .error: 16  // AV_LOG_ERROR
            case .warning: 24  // AV_LOG_WARNING
            case .info: 32  // AV_LOG_INFO
            }
        }
    }

    /// Sets FFmpeg's global log level. It is process-wide: the daemon sets it once at start.
    public static func setLogLevel(_ level: LogLevel) {
        cffmpeg_set_log_level(level.rawValue)
    }

    /// Whether v4l2 capture is available (libavdevice loads at run time; see the C shim).
    public static var devicesAvailable: Bool { cffmpeg_load_devices() != 0 }

    /// One-time network initialisation (TLS libraries); idempotent and thread-safe.
    static let networkInitialized: Bool = {
        avformat_network_init()
        return true
    }()

    /// FFmpeg's message for an error code, on one line.
    static func message(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        cffmpeg_error_string(code, &buffer, buffer.count)
        let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return text.oneLine
    }

    static let eof = cffmpeg_averror_eof()
    static let again = cffmpeg_averror(EAGAIN)
    static let exit = cffmpeg_averror_exit()
    static let invalidData = cffmpeg_averror_invaliddata()
    static let noPTS = cffmpeg_nopts_value()
}

extension String {
    /// Newlines and tabs folded into spaces, so a reason always fits on one log line.
    var oneLine: String {
        String(map { $0.isNewline || $0 == "\t" ? " " : $0 })
            .trimmingCharacters(in: .whitespaces)
    }
}

extension AVRational {
    var seconds: Double? { den == 0 || num == 0 ? nil : Double(num) / Double(den) }
}

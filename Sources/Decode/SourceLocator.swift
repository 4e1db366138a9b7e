import Foundation

/// What kind of input a URL names; decides the protocol whitelist, the demuxer and whether
/// the source reconnects.
public enum SourceKind: String, Sendable, CaseIterable {
    /// A local file in any container FFmpeg reads (`/path`, `file:///path`).
    case file
    /// `rtsp://` or `rtsps://`.
    case rtsp
    /// `http://` or `https://` (progressive streams, MPEG-TS, HLS playlists).
    case http
    /// A V4L2 capture device: `/dev/videoN` or `v4l2:///dev/videoN`.
    case v4l2

    /// FFmpeg protocols this kind may open, passed as `protocol_whitelist`.
    public var protocolWhitelist: String {
        switch self {
        case .file: "file"
        case .rtsp: "rtsp,rtsps,tcp,udp,tls,rtp,srtp"
        case .http: "http,https,tcp,tls,crypto"
        case .v4l2: "file"
        }
    }

    /// Network and device sources come back after a failure; files do not.
    public var reconnectsByDefault: Bool { self != .file }
}

/// Why a source cannot be set up as configured (its URL or its options). One line that names
/// the source (credentials masked) and the field.
public struct SourceConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let url: String
    public let reason: String
    public var description: String { "\(url): \(reason)" }
}

/// A parsed source URL: its kind, the string handed to FFmpeg, and a form safe to log.
public struct SourceLocator: Sendable, Equatable, CustomStringConvertible {
    /// The URL or path as given.
    public let url: String
    public let kind: SourceKind
    /// What `avformat_open_input` receives: `file:` + the path for files (so a name with a colon
    /// is not taken for a protocol), the device path for V4L2, the URL otherwise.
    public let ffmpegURL: String

    public typealias Error = SourceConfigurationError

    public init(_ url: String) throws(Error) {
        self.url = url
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw Error(url: url, reason: "empty source URL") }
        let lower = trimmed.lowercased()
        if lower.hasPrefix("rtsp://") || lower.hasPrefix("rtsps://") {
            (kind, ffmpegURL) = (.rtsp, trimmed)
        } else if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            (kind, ffmpegURL) = (.http, trimmed)
        } else if lower.hasPrefix("file://") {
            (kind, ffmpegURL) = (.file, "file:" + trimmed.dropFirst("file://".count))
        } else if lower.hasPrefix("v4l2://") {
            (kind, ffmpegURL) = (.v4l2, String(trimmed.dropFirst("v4l2://".count)))
        } else if let scheme = Self.scheme(of: trimmed) {
            throw Error(url: Self.redact(url), reason: "unsupported URL scheme '\(scheme)' (use file, rtsp, rtsps, http, https or v4l2)")
        } else if trimmed.hasPrefix("/dev/video") {
            (kind, ffmpegURL) = (.v4l2, trimmed)
        } else {
            (kind, ffmpegURL) = (.file, "file:" + trimmed)
        }
        if ffmpegURL.isEmpty || ffmpegURL == "file:" { throw Error(url: Self.redact(url), reason: "the URL names no path") }
    }

    /// The URL with any `user:password@` replaced by `***@`.
    public var redacted: String { Self.redact(url) }
    public var description: String { redacted }

    private static func scheme(of url: String) -> String? {
        guard let range = url.range(of: "://") else { return nil }
        let scheme = url[..<range.lowerBound]
        guard let first = scheme.first, first.isLetter,
              scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) })
        else { return nil }
        return String(scheme)
    }

    static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { "/?#".contains($0) }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + "***" + String(rest[at...])
    }
}

import Foundation

/// Everything that can go wrong while reading or writing a checkpoint (`.safetensors`, `config.json`).
///
/// `description` is always one line: the file, then what inside it (a tensor, a config field, the
/// header), then what is wrong — e.g.
/// `model.safetensors: tensor 'model.backbone.conv.weight': data_offsets [10, 4] are reversed`.
/// Names that come from the file are quoted with control characters escaped and long names cut, so a
/// hostile file cannot break the line or flood a log.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be opened, read or written.
        case io
        /// The 8-byte length prefix or the JSON header is malformed.
        case header
        /// A tensor entry is malformed (dtype, shape, offsets, overlap).
        case tensor
        /// A tensor that was asked for is not in the file.
        case missingTensor
        /// A tensor exists but its shape differs from the expected one.
        case shapeMismatch
        /// A tensor's dtype cannot be converted the way it was asked for.
        case dtype
        /// `config.json` is malformed, has an unsupported value, or a field has the wrong type.
        case config
        /// A tensor handed to `SafeTensorsWriter` is inconsistent.
        case writer
    }

    public let kind: Kind
    /// The file's name (last path component), or a stand-in such as `<memory>`.
    public let file: String
    /// What inside the file: `tensor 'name'`, `field 'd_model'`, `header`; nil for the file itself.
    public let subject: String?
    public let detail: String

    public init(_ kind: Kind, file: String, subject: String?, _ detail: String) {
        self.kind = kind
        self.file = file
        self.subject = subject
        self.detail = detail
    }

    public var description: String {
        let line = subject.map { "\(file): \($0): \(detail)" } ?? "\(file): \(detail)"
        return Self.oneLine(line, limit: 1_000)
    }

    // MARK: - Helpers for building messages

    static func tensor(_ name: String) -> String { "tensor \(quote(name))" }
    static func field(_ path: String) -> String { "field \(quote(path))" }

    /// Quotes a name taken from a file: control characters escaped, cut after `limit` characters.
    static func quote(_ name: String, limit: Int = 160) -> String {
        "'" + oneLine(name, limit: limit) + "'"
    }

    static func oneLine(_ text: String, limit: Int) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "…"
                break
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F
                    || scalar.properties.generalCategory == .lineSeparator
                    || scalar.properties.generalCategory == .paragraphSeparator
                {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
            count += 1
        }
        return out
    }

    /// Why `url` could not be read, in plain words where the cause is a common one.
    static func readFailure(_ url: URL, _ error: Error) -> String {
        var isDirectory: ObjCBool = false
        let manager = FileManager.default
        if !manager.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            return "no such file (\(oneLine(url.path, limit: 200)))"
        }
        if isDirectory.boolValue { return "is a directory (\(oneLine(url.path, limit: 200)))" }
        if !manager.isReadableFile(atPath: url.path) { return "permission denied (\(oneLine(url.path, limit: 200)))" }
        return oneLine(error.localizedDescription, limit: 200)
    }

    /// `[1, 2, 3]`, the way shapes and offsets are printed in every message.
    static func list<T>(_ values: [T]) -> String {
        "[" + values.map { "\($0)" }.joined(separator: ", ") + "]"
    }
}

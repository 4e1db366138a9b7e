import Foundation

/// A COCO file (ground truth or results) that cannot be used, or detections that do not fit the
/// ground truth they are scored against.
///
/// `description` is one line: the file, then the field, then what is wrong, e.g.
/// `instances.json: annotations[12].bbox: expected 4 numbers, got 3`. Text taken from the file is
/// quoted with control characters escaped and long values cut.
public struct CocoDataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file's name (last path component), or a stand-in such as `<detections>`.
    public let file: String
    /// The field, as a path into the JSON (`annotations[12].bbox`); nil for the file as a whole.
    public let field: String?
    public let detail: String

    public init(file: String, field: String?, _ detail: String) {
        self.file = file
        self.field = field
        self.detail = detail
    }

    public var description: String {
        let line = field.map { "\(file): \($0): \(detail)" } ?? "\(file): \(detail)"
        return CheckpointError.oneLine(line, limit: 1_000)
    }
}

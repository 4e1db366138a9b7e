import Foundation

/// One configuration problem: the field's path (`streams[1].queue.capacity`) and what is wrong.
struct ConfigIssue: Equatable, Sendable, CustomStringConvertible {
    let field: String
    let message: String
    var description: String { field.isEmpty ? message : "\(field): \(message)" }
}

/// Every problem found in a config file, each on its own line, prefixed by the file's name.
struct ConfigError: Error, CustomStringConvertible {
    let file: String
    let issues: [ConfigIssue]
    var lines: [String] { issues.map { "\(file): \($0)" } }
    var description: String { lines.joined(separator: "\n") }
}

/// Collects issues while a config is read, so one run reports every mistake, not only the first.
final class IssueList {
    private(set) var issues: [ConfigIssue] = []
    func add(_ field: String, _ message: String) { issues.append(ConfigIssue(field: field, message: message)) }
}

/// Reads the members of one JSON object by name, checking type and range, and reports the
/// members nobody asked for as unknown (the usual cause: a typo in a field name).
struct ObjectFields {
    let path: String
    let issues: IssueList
    private let members: [(key: String, value: JSONValue)]
    private var read: Set<String> = []

    /// nil (with an issue recorded) when `value` is not an object.
    init?(_ value: JSONValue, path: String, issues: IssueList) {
        guard case let .object(members) = value else {
            issues.add(path, "must be an object, got \(value.typeName)")
            return nil
        }
        self.members = members
        self.path = path
        self.issues = issues
    }

    func field(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    /// The raw member, marked as known. A JSON `null` counts as absent.
    mutating func value(_ name: String) -> JSONValue? {
        read.insert(name)
        guard let value = members.first(where: { $0.key == name })?.value, value != .null else { return nil }
        return value
    }

    /// Every member name, in file order.
    var keys: [String] { members.map(\.key) }

    func has(_ name: String) -> Bool { members.contains { $0.key == name && $0.value != .null } }

    /// Reports every member that was never read.
    func finish() {
        for (key, _) in members where !read.contains(key) {
            let known = read.sorted().joined(separator: ", ")
            issues.add(field(key), "unknown field (known here: \(known))")
        }
    }

    mutating func string(_ name: String, required: Bool = false, nonEmpty: Bool = true) -> String? {
        guard let value = value(name) else {
            if required { issues.add(field(name), "is required") }
            return nil
        }
        guard case let .string(text) = value else {
            issues.add(field(name), "must be a string, got \(value.typeName)")
            return nil
        }
        if nonEmpty, text.trimmingCharacters(in: .whitespaces).isEmpty {
            issues.add(field(name), "must not be empty")
            return nil
        }
        return text
    }

    mutating func string(_ name: String, default fallback: String) -> String {
        string(name) ?? fallback
    }

    /// A string that must be one of `choices`.
    mutating func choice<T: RawRepresentable>(_ name: String, _ type: T.Type, allowed: [T]) -> T? where T.RawValue == String {
        guard let text = string(name) else { return nil }
        guard let value = T(rawValue: text), allowed.contains(where: { $0.rawValue == value.rawValue }) else {
            let names = allowed.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            issues.add(field(name), "must be one of \(names), got \"\(text)\"")
            return nil
        }
        return value
    }

    mutating func bool(_ name: String, default fallback: Bool) -> Bool {
        guard let value = value(name) else { return fallback }
        guard case let .bool(flag) = value else {
            issues.add(field(name), "must be true or false, got \(value.typeName)")
            return fallback
        }
        return flag
    }

    mutating func int(_ name: String, default fallback: Int?, range: ClosedRange<Int>) -> Int? {
        guard let value = value(name) else { return fallback }
        let number: Int
        switch value {
        case let .integer(n): number = n
        case let .number(x) where x == x.rounded() && abs(x) < 1e15: number = Int(x)
        case .number:
            issues.add(field(name), "must be a whole number, got \(Self.format(value))")
            return fallback
        default:
            issues.add(field(name), "must be a whole number, got \(value.typeName)")
            return fallback
        }
        guard range.contains(number) else {
            issues.add(field(name), "must be in \(range.lowerBound)...\(range.upperBound), got \(number)")
            return fallback
        }
        return number
    }

    mutating func double(_ name: String, default fallback: Double?, range: ClosedRange<Double>) -> Double? {
        guard let value = value(name) else { return fallback }
        let number: Double
        switch value {
        case let .integer(n): number = Double(n)
        case let .number(x): number = x
        default:
            issues.add(field(name), "must be a number, got \(value.typeName)")
            return fallback
        }
        guard range.contains(number) else {
            issues.add(field(name), "must be in \(Self.format(range.lowerBound))...\(Self.format(range.upperBound)), got \(Self.format(number))")
            return fallback
        }
        return number
    }

    /// An object member, read by `body`; nil when absent.
    mutating func object<T>(_ name: String, _ body: (inout ObjectFields) -> T?) -> T? {
        guard let value = value(name) else { return nil }
        guard var fields = ObjectFields(value, path: field(name), issues: issues) else { return nil }
        let result = body(&fields)
        fields.finish()
        return result
    }

    mutating func array(_ name: String) -> [JSONValue]? {
        guard let value = value(name) else { return nil }
        guard case let .array(elements) = value else {
            issues.add(field(name), "must be an array, got \(value.typeName)")
            return nil
        }
        return elements
    }

    static func format(_ value: JSONValue) -> String {
        switch value {
        case let .integer(n): String(n)
        case let .number(x): format(x)
        default: value.typeName
        }
    }

    static func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}

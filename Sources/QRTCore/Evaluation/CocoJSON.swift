import Foundation

/// Typed access to COCO's JSON files on top of the strict `CheckpointJSON` parser, with every
/// failure a `CocoDataError` that names the file and the field path (`annotations[3].bbox`).
struct CocoJSON {
    let file: String

    /// Reads and parses `url`; the error names the file (and the byte offset of bad JSON).
    static func read(_ url: URL) throws(CocoDataError) -> (CocoJSON, CheckpointJSON.Value) {
        let file = url.lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CocoDataError(file: file, field: nil, CheckpointError.readFailure(url, error))
        }
        let reader = CocoJSON(file: file)
        return (reader, try reader.parse(data))
    }

    func parse(_ data: Data) throws(CocoDataError) -> CheckpointJSON.Value {
        let result = data.withUnsafeBytes { bytes in
            Result { () throws(CheckpointJSON.ParseError) in try CheckpointJSON.parse(bytes) }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error):
            throw CocoDataError(file: file, field: nil, "invalid JSON at byte \(error.offset): \(error.message)")
        }
    }

    func fail(_ path: String, _ detail: String) -> CocoDataError {
        CocoDataError(file: file, field: path, detail)
    }

    func object(_ value: CheckpointJSON.Value, _ path: String) throws(CocoDataError) -> [String: CheckpointJSON.Value] {
        guard case .object(let members) = value else { throw fail(path, "expected an object, got \(value.kindName)") }
        var fields: [String: CheckpointJSON.Value] = [:]
        for member in members { fields[member.key] = member.value }
        return fields
    }

    func array(_ value: CheckpointJSON.Value, _ path: String) throws(CocoDataError) -> [CheckpointJSON.Value] {
        guard case .array(let elements) = value else { throw fail(path, "expected a list, got \(value.kindName)") }
        return elements
    }

    func required(_ fields: [String: CheckpointJSON.Value], _ key: String, _ path: String)
        throws(CocoDataError) -> CheckpointJSON.Value
    {
        guard let value = fields[key] else { throw fail(path, "missing field '\(key)'") }
        return value
    }

    func integer(_ value: CheckpointJSON.Value, _ path: String) throws(CocoDataError) -> Int {
        guard let integer = value.exactInteger else {
            throw fail(path, "expected an integer, got \(value.shortDescription)")
        }
        return integer
    }

    func number(_ value: CheckpointJSON.Value, _ path: String) throws(CocoDataError) -> Double {
        guard case .number(let literal) = value, let number = Double(literal), number.isFinite else {
            throw fail(path, "expected a finite number, got \(value.shortDescription)")
        }
        return number
    }

    func string(_ value: CheckpointJSON.Value, _ path: String) throws(CocoDataError) -> String {
        guard case .string(let text) = value else { throw fail(path, "expected a string, got \(value.shortDescription)") }
        return text
    }

    /// 0 / 1 or false / true, as COCO writes `iscrowd` and `ignore`.
    func flag(_ value: CheckpointJSON.Value, _ path: String) throws(CocoDataError) -> Bool {
        if case .bool(let flag) = value { return flag }
        switch value.exactInteger {
        case 0: return false
        case 1: return true
        default: throw fail(path, "expected 0 or 1, got \(value.shortDescription)")
        }
    }

    /// `[x, y, width, height]`: four finite numbers, width and height not negative.
    func box(_ value: CheckpointJSON.Value, _ path: String) throws(CocoDataError) -> CocoBox {
        let elements = try array(value, path)
        guard elements.count == 4 else { throw fail(path, "expected 4 numbers [x, y, width, height], got \(elements.count)") }
        var numbers: [Double] = []
        for (index, element) in elements.enumerated() { numbers.append(try number(element, "\(path)[\(index)]")) }
        guard numbers[2] >= 0, numbers[3] >= 0 else {
            throw fail(path, "width and height must not be negative, got \(numbers[2]), \(numbers[3])")
        }
        return CocoBox(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3])
    }
}

import Foundation

/// Just enough of JSON Schema 2020-12 to check records against docs/detections.schema.json
/// offline: $ref (local), oneOf, allOf, if/then, type, const, enum, required, properties,
/// additionalProperties: false, items, minItems, maxItems, minimum, maximum, pattern.
/// An unknown keyword makes validation fail loudly, so the schema cannot outgrow the checker.
struct SchemaValidator: @unchecked Sendable {
    let root: [String: Any]

    static let detections: SchemaValidator = {
        let url = TestSupport.repoRoot.appendingPathComponent("docs/detections.schema.json")
        let data = try! Data(contentsOf: url)
        return SchemaValidator(root: try! JSONSerialization.jsonObject(with: data) as! [String: Any])
    }()

    private static let annotations: Set<String> = ["$schema", "$id", "title", "description", "$defs", "format", "$comment"]

    /// Problems with `value`, each with its JSON path; empty when it is valid.
    func errors(_ value: Any) -> [String] {
        var found: [String] = []
        check(value, against: root, path: "$", errors: &found)
        return found
    }

    private func resolve(_ reference: String) -> [String: Any] {
        precondition(reference.hasPrefix("#/"), "only local references: \(reference)")
        var node: Any = root
        for part in reference.dropFirst(2).split(separator: "/") {
            node = (node as! [String: Any])[String(part)]!
        }
        return node as! [String: Any]
    }

    private func check(_ value: Any, against schema: [String: Any], path: String, errors: inout [String]) {
        for (keyword, rule) in schema {
            switch keyword {
            case "$ref":
                check(value, against: resolve(rule as! String), path: path, errors: &errors)
            case "oneOf":
                let matches = (rule as! [[String: Any]]).filter { sub in
                    var inner: [String] = []
                    check(value, against: sub, path: path, errors: &inner)
                    return inner.isEmpty
                }.count
                if matches != 1 {
                    // Say why, using the branch whose `type` const matches, if any.
                    var detail: [String] = []
                    for sub in rule as! [[String: Any]] {
                        var inner: [String] = []
                        check(value, against: sub, path: path, errors: &inner)
                        if inner.count < 4 { detail += inner }
                    }
                    errors.append("\(path): matches \(matches) of oneOf \(detail)")
                }
            case "allOf":
                for sub in rule as! [[String: Any]] { check(value, against: sub, path: path, errors: &errors) }
            case "if":
                var inner: [String] = []
                check(value, against: rule as! [String: Any], path: path, errors: &inner)
                if inner.isEmpty, let then = schema["then"] as? [String: Any] {
                    check(value, against: then, path: path, errors: &errors)
                }
            case "then":
                break
            case "type":
                let types = (rule as? [String]) ?? [rule as! String]
                if !types.contains(where: { Self.isType(value, $0) }) {
                    errors.append("\(path): \(Self.describe(value)) is not of type \(types)")
                }
            case "const":
                if !Self.equal(value, rule) { errors.append("\(path): \(Self.describe(value)) != const \(rule)") }
            case "enum":
                if !(rule as! [Any]).contains(where: { Self.equal(value, $0) }) {
                    errors.append("\(path): \(Self.describe(value)) not in \(rule)")
                }
            case "required":
                guard let object = value as? [String: Any] else { continue }
                for name in rule as! [String] where object[name] == nil { errors.append("\(path): missing \(name)") }
            case "properties":
                guard let object = value as? [String: Any] else { continue }
                for (name, sub) in rule as! [String: Any] {
                    if let member = object[name] { check(member, against: sub as! [String: Any], path: "\(path).\(name)", errors: &errors) }
                }
            case "additionalProperties":
                guard let object = value as? [String: Any], (rule as? Bool) == false else { continue }
                let known = Set(((schema["properties"] as? [String: Any]) ?? [:]).keys)
                for name in object.keys where !known.contains(name) { errors.append("\(path): unexpected field \(name)") }
            case "items":
                guard let array = value as? [Any] else { continue }
                for (index, element) in array.enumerated() {
                    check(element, against: rule as! [String: Any], path: "\(path)[\(index)]", errors: &errors)
                }
            case "minItems":
                if let array = value as? [Any], array.count < (rule as! Int) { errors.append("\(path): fewer than \(rule) items") }
            case "maxItems":
                if let array = value as? [Any], array.count > (rule as! Int) { errors.append("\(path): more than \(rule) items") }
            case "minimum":
                if let number = Self.number(value), number < Self.number(rule)! { errors.append("\(path): \(number) < \(rule)") }
            case "maximum":
                if let number = Self.number(value), number > Self.number(rule)! { errors.append("\(path): \(number) > \(rule)") }
            case "pattern":
                if let text = value as? String, text.range(of: rule as! String, options: .regularExpression) == nil {
                    errors.append("\(path): \"\(text)\" does not match \(rule)")
                }
            default:
                if !Self.annotations.contains(keyword) { errors.append("\(path): the test validator does not know '\(keyword)'") }
            }
        }
    }

    private static func isBool(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    private static func number(_ value: Any) -> Double? {
        guard !isBool(value), let number = value as? NSNumber else { return nil }
        return number.doubleValue
    }

    private static func isType(_ value: Any, _ type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "boolean": return isBool(value)
        case "string": return value is String
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "number": return number(value) != nil
        case "integer": return number(value).map { $0 == $0.rounded() } ?? false
        default: return false
        }
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        if let x = a as? String, let y = b as? String { return x == y }
        if let x = number(a), let y = number(b) { return x == y }
        return false
    }

    private static func describe(_ value: Any) -> String {
        "\(value)".prefix(60).description
    }
}

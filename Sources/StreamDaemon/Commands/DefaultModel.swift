import Foundation

/// The trained model shipped in `models/` (see its model card), used when no model is named.
///
/// Looked up, first hit wins: `$QRT_DETR_MODEL`; `models/<name>` beside the executable or up to
/// four directories above it (a checkout's `.build/release/qrt-detr` finds the checkout's copy);
/// the installed copies under `/usr/local/share/qrt-detr` and `/usr/share/qrt-detr`.
enum DefaultModel {
    static let name = "rtdetr-r18vd-traffic"
    static let environmentVariable = "QRT_DETR_MODEL"

    struct NotFound: Error, CustomStringConvertible {
        let searched: [String]
        var description: String {
            "no model given and the default model \(DefaultModel.name) was not found (searched \(searched.joined(separator: ", "))); "
                + "pass --model DIR or set \(DefaultModel.environmentVariable)"
        }
    }

    static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let configured = environment[environmentVariable], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        let found = candidates().first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) }
        guard let found else { throw NotFound(searched: candidates().map(\.path)) }
        return found
    }

    static func candidates() -> [URL] {
        var directories: [URL] = []
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0...4 {
            directories.append(directory.appendingPathComponent("models").appendingPathComponent(name))
            directory = directory.deletingLastPathComponent()
        }
        for prefix in ["/usr/local/share/qrt-detr", "/usr/share/qrt-detr"] {
            directories.append(URL(fileURLWithPath: prefix).appendingPathComponent("models").appendingPathComponent(name))
        }
        return directories
    }
}

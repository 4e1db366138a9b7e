import Foundation

/// Crash-safe persistence for online requantization state (accepted ranges, tracker histograms):
/// written to a temporary file, fsynced, renamed over the old one and the directory fsynced, with
/// an FNV-1a 64 checksum in a one-line header, so a torn or edited file is detected on restore
/// instead of feeding the model wrong ranges (a guard against accidents, not against an attacker).
public enum StateFile {
    public struct Corrupt: Error, CustomStringConvertible {
        public let description: String
    }

    static let magic = "qrt-detr-state v1"

    /// Atomically replaces `url` with `payload`.
    public static func write(_ payload: Data, to url: URL) throws {
        let header = "\(magic) \(payload.count) \(String(checksum(payload), radix: 16))\n"
        var contents = Data(header.utf8)
        contents.append(payload)
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.write(contentsOf: contents)
            try handle.synchronize()
            try handle.close()
            guard rename(temporary.path, url.path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        let descriptor = open(directory.path, O_RDONLY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }

    /// The payload of a state file, or nil when there is none; throws when it is damaged.
    public static func read(_ url: URL) throws -> Data? {
        guard let contents = FileManager.default.contents(atPath: url.path) else { return nil }
        guard let newline = contents.firstIndex(of: UInt8(ascii: "\n")) else {
            throw Corrupt(description: "\(url.path): no header line")
        }
        let header = String(decoding: contents[contents.startIndex..<newline], as: UTF8.self).split(separator: " ")
        guard header.count == 4, "\(header[0]) \(header[1])" == magic, let length = Int(header[2]),
              let expected = UInt64(header[3], radix: 16) else {
            throw Corrupt(description: "\(url.path): not a qrt-detr state file")
        }
        let payload = contents[contents.index(after: newline)...]
        guard payload.count == length else {
            throw Corrupt(description: "\(url.path): \(payload.count) payload bytes, header says \(length) (torn write?)")
        }
        guard checksum(payload) == expected else {
            throw Corrupt(description: "\(url.path): checksum mismatch")
        }
        return Data(payload)
    }

    /// FNV-1a, 64-bit.
    static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }
}

import Foundation
import Synchronization

/// Appends records to a file and rotates by size: when the next record would take the file
/// past `maxBytes`, `path.N-1` → `path.N`, …, `path` → `path.1`, and a new `path` starts.
/// With `keep` 0 the file is truncated instead. Records are never split across files.
final class RotatingFileSink: RecordSink, @unchecked Sendable {
    let name: String
    let config: FileSinkConfig
    private var fd: Int32 = -1
    private var size = 0
    private let state = Mutex(SinkCounters())

    struct OpenError: Error, CustomStringConvertible {
        let description: String
    }

    init(_ config: FileSinkConfig) throws(OpenError) {
        self.config = config
        self.name = "file:\(config.path)"
        try reopen()
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    private func reopen() throws(OpenError) {
        if fd >= 0 { Glibc.close(fd) }
        fd = open(config.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw OpenError(description: "cannot open \(config.path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    func write(_ line: [UInt8], stream: String) throws(SinkFailure) {
        if fd < 0 {
            do { try reopen() } catch { state.withLock { $0.errors += 1 }; throw .failed(error.description) }
        }
        if size > 0, size + line.count > config.maxBytes {
            do { try rotate() } catch {
                state.withLock { $0.errors += 1 }
                throw .failed(error.description)
            }
        }
        if let code = writeAll(fd, line) {
            state.withLock { $0.errors += 1 }
            throw .failed("\(config.path): \(String(cString: strerror(code)))")
        }
        size += line.count
        state.withLock { $0.records += 1 }
    }

    private func rotate() throws(OpenError) {
        fsync(fd)
        if config.keep == 0 {
            guard ftruncate(fd, 0) == 0 else {
                throw OpenError(description: "cannot truncate \(config.path): \(String(cString: strerror(errno)))")
            }
            size = 0
        } else {
            for index in stride(from: config.keep - 1, through: 1, by: -1) {
                rename("\(config.path).\(index)", "\(config.path).\(index + 1)")  // absent ones fail harmlessly
            }
            guard rename(config.path, "\(config.path).1") == 0 else {
                throw OpenError(description: "cannot rotate \(config.path): \(String(cString: strerror(errno)))")
            }
            try reopen()
        }
        state.withLock { $0.rotations += 1 }
    }

    func flush(deadline: Double) {
        if fd >= 0 { fsync(fd) }
    }

    func close() {
        if fd >= 0 {
            fsync(fd)
            Glibc.close(fd)
            fd = -1
        }
    }

    var counters: SinkCounters { state.withLock { $0 } }
}

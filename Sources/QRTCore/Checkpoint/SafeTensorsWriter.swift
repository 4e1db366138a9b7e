import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Builds a `.safetensors` file: named tensors in the order they were added, an optional
/// `__metadata__` string map, the header padded with spaces to a multiple of 8 bytes (as the
/// reference implementation does) so every tensor starts 8-byte aligned in the file.
///
/// `write(to:)` is atomic: the bytes go to a temporary file in the same directory, are fsynced,
/// and the temporary file is renamed over the destination, so a reader sees the old file or the
/// new one, never half of one.
public struct SafeTensorsWriter: Sendable {
    enum Payload: Sendable {
        case floats([Float])
        case int64s([Int64])
        case bytes([UInt8])

        var byteCount: Int {
            switch self {
            case .floats(let values): return values.count * 4
            case .int64s(let values): return values.count * 8
            case .bytes(let values): return values.count
            }
        }
    }

    struct Item: Sendable {
        let name: String
        let dtype: SafeTensorsDType
        let shape: [Int]
        let payload: Payload
    }

    public var metadata: [String: String]
    private var items: [Item] = []
    private var names = Set<String>()

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    public var tensorNames: [String] { items.map(\.name) }

    /// Adds an F32 tensor; `values.count` must equal the product of `shape`.
    public mutating func add(_ name: String, shape: [Int], floats values: [Float]) throws(CheckpointError) {
        try append(name, .f32, shape, elementCount: values.count, .floats(values))
    }

    /// Adds an I64 tensor (indices, counts).
    public mutating func add(_ name: String, shape: [Int], int64s values: [Int64]) throws(CheckpointError) {
        try append(name, .i64, shape, elementCount: values.count, .int64s(values))
    }

    /// Adds a tensor from its raw little-endian bytes, for any dtype (packed weights, U8 masks).
    public mutating func add(
        _ name: String, dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]
    ) throws(CheckpointError) {
        guard bytes.count % dtype.byteSize == 0 else {
            throw CheckpointError(
                .writer, file: "<writer>", subject: CheckpointError.tensor(name),
                "\(bytes.count) bytes is not a whole number of \(dtype.rawValue) elements")
        }
        try append(name, dtype, shape, elementCount: bytes.count / dtype.byteSize, .bytes(bytes))
    }

    private mutating func append(
        _ name: String, _ dtype: SafeTensorsDType, _ shape: [Int], elementCount: Int, _ payload: Payload
    ) throws(CheckpointError) {
        func fail(_ detail: String) -> CheckpointError {
            CheckpointError(.writer, file: "<writer>", subject: CheckpointError.tensor(name), detail)
        }
        guard name != "__metadata__" else { throw fail("the name is reserved for the metadata map") }
        guard !names.contains(name) else { throw fail("was already added") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("shape \(CheckpointError.list(shape)) has a negative dimension") }
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw fail("shape \(CheckpointError.list(shape)) has too many elements") }
            count = product
        }
        guard count == elementCount else {
            throw fail("shape \(CheckpointError.list(shape)) needs \(count) elements, got \(elementCount)")
        }
        names.insert(name)
        items.append(Item(name: name, dtype: dtype, shape: shape, payload: payload))
    }

    /// The JSON header, padded with spaces to a multiple of 8 bytes.
    func header() -> [UInt8] {
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(CheckpointJSON.quoted($0)):\(CheckpointJSON.quoted(metadata[$0]!))" }
            fields.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for item in items {
            let end = offset + item.payload.byteCount
            let shape = item.shape.map(String.init).joined(separator: ",")
            fields.append(
                "\(CheckpointJSON.quoted(item.name)):{\"dtype\":\"\(item.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"
            )
            offset = end
        }
        var bytes = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        return bytes
    }

    /// The whole file in memory.
    public func serialized() -> Data {
        var data = Data()
        emit { chunk in data.append(contentsOf: chunk) }
        return data
    }

    /// Writes the file atomically (temporary file in the same directory, fsync, rename, fsync of the
    /// directory).
    public func write(to url: URL) throws(CheckpointError) {
        let name = url.lastPathComponent
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + name + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        func fail(_ what: String) -> CheckpointError {
            CheckpointError(.io, file: name, subject: nil, "\(what): \(String(cString: strerror(errno)))")
        }

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("cannot create temporary file in \(directory)") }
        var failure: CheckpointError?
        emit { chunk in
            guard failure == nil else { return }
            var offset = 0
            while offset < chunk.count {
                let written = Glibc.write(fd, chunk.baseAddress! + offset, chunk.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = fail("write failed")
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = fail("fsync failed") }
        if close(fd) != 0, failure == nil { failure = fail("close failed") }
        if failure == nil, rename(temporary, url.path) != 0 { failure = fail("rename failed") }
        if let failure {
            unlink(temporary)
            throw failure
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Produces the file as a sequence of byte chunks: length, header, then each tensor's bytes.
    private func emit(_ sink: (UnsafeRawBufferPointer) -> Void) {
        let header = header()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { sink($0) }
        header.withUnsafeBytes { sink($0) }
        for item in items {
            switch item.payload {
            case .floats(let values):
                #if _endian(little)
                values.withUnsafeBytes { sink($0) }
                #else
                values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { sink($0) }
                #endif
            case .int64s(let values):
                #if _endian(little)
                values.withUnsafeBytes { sink($0) }
                #else
                values.map { $0.littleEndian }.withUnsafeBytes { sink($0) }
                #endif
            case .bytes(let values):
                values.withUnsafeBytes { sink($0) }
            }
        }
    }
}

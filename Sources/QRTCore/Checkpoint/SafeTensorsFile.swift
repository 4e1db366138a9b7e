import Foundation

/// A `.safetensors` file, memory-mapped and validated in full when it is opened.
///
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object mapping each
/// tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`, plus an optional
/// `__metadata__` string map), then the data buffer; offsets are relative to the buffer.
///
/// Opening checks everything before any tensor is touched, as strictly as the reference Rust
/// implementation: the length prefix, the JSON, every entry's dtype, shape and offsets, that
/// byte lengths equal element count × dtype size (with overflow checks), and that the tensors tile
/// the data buffer exactly — no overlap, no gap, no trailing bytes. After `init` succeeds no
/// accessor can read outside the file. (The one thing no reader can guard against is the file
/// being truncated by someone else while it is mapped.)
public struct SafeTensorsFile: Sendable {
    struct Entry: Sendable {
        let dtype: SafeTensorsDType
        let shape: [Int]
        let count: Int
        /// Byte range within the data buffer (relative, as in the header).
        let begin: Int
        let end: Int
    }

    /// Header lengths above this are refused before any allocation (the Rust crate's limit).
    public static let maxHeaderLength = 100_000_000

    /// The name used in error messages: the file's last path component.
    public let fileName: String
    /// The `__metadata__` map, or empty.
    public let metadata: [String: String]
    /// All tensor names, sorted.
    public let tensorNames: [String]

    private let entries: [String: Entry]
    private let storage: Data
    private let dataStart: Int

    /// Maps and validates the file at `url`.
    public init(contentsOf url: URL) throws(CheckpointError) {
        let name = url.lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: url, options: [.alwaysMapped])
        } catch {
            throw CheckpointError(.io, file: name, subject: nil, "cannot read: \(CheckpointError.readFailure(url, error))")
        }
        try self.init(data: data, fileName: name)
    }

    /// Validates an in-memory safetensors image; `fileName` names it in errors.
    public init(data: Data, fileName: String) throws(CheckpointError) {
        self.fileName = fileName
        self.storage = data
        func headerError(_ detail: String) -> CheckpointError {
            CheckpointError(.header, file: fileName, subject: "header", detail)
        }

        let fileSize = data.count
        guard fileSize >= 8 else {
            throw CheckpointError(
                .header, file: fileName, subject: nil,
                "file is \(fileSize) bytes, shorter than the 8-byte header length")
        }
        let headerLength: UInt64 = data.withUnsafeBytes { raw in
            UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        }
        guard headerLength <= UInt64(Self.maxHeaderLength) else {
            throw CheckpointError(
                .header, file: fileName, subject: nil,
                "header length \(headerLength) bytes is absurd (limit \(Self.maxHeaderLength))")
        }
        guard Int(headerLength) <= fileSize - 8 else {
            throw CheckpointError(
                .header, file: fileName, subject: nil,
                "header length \(headerLength) bytes runs past the end of the file (\(fileSize - 8) bytes follow the length)")
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = fileSize - dataStart
        self.dataStart = dataStart

        let parsed = data.withUnsafeBytes { raw in
            Result { () throws(CheckpointJSON.ParseError) in
                try CheckpointJSON.parse(UnsafeRawBufferPointer(rebasing: raw[8..<dataStart]))
            }
        }
        let root: CheckpointJSON.Value
        switch parsed {
        case .success(let value): root = value
        case .failure(let error): throw headerError("not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let members) = root else {
            throw headerError("is \(root.kindName), not a JSON object")
        }

        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        entries.reserveCapacity(members.count)
        for member in members {
            let (key, value) = (member.key, member.value)
            if key == "__metadata__" {
                metadata = try Self.parseMetadata(value, fileName: fileName)
            } else {
                entries[key] = try Self.parseEntry(key, value, dataLength: dataLength, fileName: fileName)
            }
        }
        try Self.checkTiling(entries, dataLength: dataLength, fileName: fileName)

        self.metadata = metadata
        self.entries = entries
        self.tensorNames = entries.keys.sorted()
    }

    // MARK: - Access

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The dtype and shape of `name`, or nil when the file has no such tensor.
    public func info(_ name: String) -> (dtype: SafeTensorsDType, shape: [Int])? {
        entries[name].map { ($0.dtype, $0.shape) }
    }

    /// The tensor's elements converted to Float: exact for F32, F16, BF16, F8 and integers up to
    /// 2^24 in magnitude; F64 and larger integers round to nearest.
    public func floats(_ name: String) throws(CheckpointError) -> [Float] {
        let entry = try self.entry(name)
        return [Float](unsafeUninitializedCapacity: entry.count) { buffer, initialized in
            convertFloats(entry, into: buffer)
            initialized = entry.count
        }
    }

    /// `floats(name)`, after checking the tensor has exactly `shape`.
    public func floats(_ name: String, shape: [Int]) throws(CheckpointError) -> [Float] {
        try checkShape(name, shape)
        return try floats(name)
    }

    /// The tensor as a QRTCore `Tensor` of `shape` (checked), for weights loaded into the graph.
    public func tensor(_ name: String, shape: [Int]) throws(CheckpointError) -> Tensor {
        let entry = try checkShape(name, shape)
        let tensor = Tensor(shape: shape)
        convertFloats(entry, into: tensor.buffer)
        return tensor
    }

    /// An integer tensor's elements, exactly (I64/I32/I16/I8/U64/U32/U16/U8/BOOL; U64 values above
    /// Int64.max throw). Float dtypes throw: an index tensor stored as float is a mistake.
    public func int64s(_ name: String) throws(CheckpointError) -> [Int64] {
        let entry = try self.entry(name)
        func load<T: FixedWidthInteger>(_: T.Type) -> [Int64]? {
            withPayload(entry) { bytes in
                var values = [Int64]()
                values.reserveCapacity(entry.count)
                for index in 0..<entry.count {
                    let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self))
                    guard let exact = Int64(exactly: value) else { return nil }
                    values.append(exact)
                }
                return values
            }
        }
        let result: [Int64]?
        switch entry.dtype {
        case .i64: result = load(Int64.self)
        case .i32: result = load(Int32.self)
        case .i16: result = load(Int16.self)
        case .i8: result = load(Int8.self)
        case .u64: result = load(UInt64.self)
        case .u32: result = load(UInt32.self)
        case .u16: result = load(UInt16.self)
        case .u8, .bool: result = load(UInt8.self)
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2:
            throw CheckpointError(
                .dtype, file: fileName, subject: CheckpointError.tensor(name),
                "dtype \(entry.dtype.rawValue) is not an integer type")
        }
        guard let result else {
            throw CheckpointError(
                .dtype, file: fileName, subject: CheckpointError.tensor(name), "U64 value does not fit in Int64")
        }
        return result
    }

    /// The tensor's raw little-endian bytes (for packed or quantized payloads).
    public func rawBytes(_ name: String) throws(CheckpointError) -> Data {
        let entry = try self.entry(name)
        return storage.subdata(in: (storage.startIndex + dataStart + entry.begin)..<(storage.startIndex + dataStart + entry.end))
    }

    // MARK: - Internals

    private func entry(_ name: String) throws(CheckpointError) -> Entry {
        guard let entry = entries[name] else {
            throw CheckpointError(
                .missingTensor, file: fileName, subject: CheckpointError.tensor(name),
                "is missing (the file has \(entries.count) tensors)")
        }
        return entry
    }

    @discardableResult
    private func checkShape(_ name: String, _ shape: [Int]) throws(CheckpointError) -> Entry {
        let entry = try self.entry(name)
        guard entry.shape == shape else {
            throw CheckpointError(
                .shapeMismatch, file: fileName, subject: CheckpointError.tensor(name),
                "expected shape \(CheckpointError.list(shape)), found \(CheckpointError.list(entry.shape))")
        }
        return entry
    }

    /// Runs `body` on the entry's bytes; the range was validated at open, so it lies inside the file.
    private func withPayload<R>(_ entry: Entry, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        storage.withUnsafeBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)]))
        }
    }

    private func convertFloats(_ entry: Entry, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(out.count == entry.count)
        withPayload(entry) { bytes in Self.convert(entry.dtype, bytes, count: entry.count, into: out) }
    }

    static func convert(
        _ dtype: SafeTensorsDType, _ bytes: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutableBufferPointer<Float>
    ) {
        guard count > 0 else { return }
        func each<T: FixedWidthInteger>(_: T.Type, _ transform: (T) -> Float) {
            let stride = MemoryLayout<T>.size
            for index in 0..<count {
                out[index] = transform(T(littleEndian: bytes.loadUnaligned(fromByteOffset: index * stride, as: T.self)))
            }
        }
        switch dtype {
        case .f32:
            #if _endian(little)
            UnsafeMutableRawBufferPointer(out).copyMemory(from: bytes)
            #else
            each(UInt32.self) { Float(bitPattern: $0) }
            #endif
        case .f64: each(UInt64.self) { Float(Double(bitPattern: $0)) }
        case .f16: each(UInt16.self, SafeTensorsScalar.f16)
        case .bf16: each(UInt16.self, SafeTensorsScalar.bf16)
        case .f8e4m3: each(UInt8.self, SafeTensorsScalar.f8e4m3)
        case .f8e5m2: each(UInt8.self, SafeTensorsScalar.f8e5m2)
        case .i64: each(Int64.self) { Float($0) }
        case .i32: each(Int32.self) { Float($0) }
        case .i16: each(Int16.self) { Float($0) }
        case .i8: each(Int8.self) { Float($0) }
        case .u64: each(UInt64.self) { Float($0) }
        case .u32: each(UInt32.self) { Float($0) }
        case .u16: each(UInt16.self) { Float($0) }
        case .u8, .bool: each(UInt8.self) { Float($0) }
        }
    }

    // MARK: - Header validation

    private static func parseMetadata(_ value: CheckpointJSON.Value, fileName: String) throws(CheckpointError) -> [String: String] {
        let subject = CheckpointError.field("__metadata__")
        switch value {
        case .null:
            return [:]
        case .object(let members):
            var metadata: [String: String] = [:]
            for member in members {
                let (key, item) = (member.key, member.value)
                guard case .string(let text) = item else {
                    throw CheckpointError(
                        .header, file: fileName, subject: subject,
                        "value of \(CheckpointError.quote(key)) is \(item.kindName), not a string")
                }
                metadata[key] = text
            }
            return metadata
        default:
            throw CheckpointError(.header, file: fileName, subject: subject, "is \(value.kindName), not a map of strings")
        }
    }

    private static func parseEntry(
        _ name: String, _ value: CheckpointJSON.Value, dataLength: Int, fileName: String
    ) throws(CheckpointError) -> Entry {
        func fail(_ detail: String) -> CheckpointError {
            CheckpointError(.tensor, file: fileName, subject: CheckpointError.tensor(name), detail)
        }
        guard case .object(let members) = value else { throw fail("entry is \(value.kindName), not an object") }
        func member(_ key: String) throws(CheckpointError) -> CheckpointJSON.Value {
            guard let found = members.first(where: { $0.key == key }) else { throw fail("missing '\(key)'") }
            return found.value
        }

        guard case .string(let dtypeName) = try member("dtype") else {
            throw fail("'dtype' is \(try member("dtype").kindName), not a string")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw fail("unknown dtype \(CheckpointError.quote(dtypeName, limit: 40))")
        }

        guard case .array(let dims) = try member("shape") else {
            throw fail("'shape' is \(try member("shape").kindName), not a list")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        var count = 1
        var overflow = false
        for dim in dims {
            guard let size = dim.exactInteger else {
                throw fail("shape dimension \(dim.shortDescription) is not an integer")
            }
            guard size >= 0 else { throw fail("shape dimension \(size) is negative") }
            shape.append(size)
            if !overflow {
                let (product, didOverflow) = count.multipliedReportingOverflow(by: size)
                count = product
                overflow = didOverflow
            }
        }
        // A zero dimension makes the element count 0 whatever the others are.
        if shape.contains(0) {
            count = 0
            overflow = false
        }
        let (byteCount, bytesOverflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, !bytesOverflow else {
            throw fail("shape \(CheckpointError.list(shape)) has too many elements")
        }

        guard case .array(let offsetValues) = try member("data_offsets") else {
            throw fail("'data_offsets' is \(try member("data_offsets").kindName), not a list")
        }
        guard offsetValues.count == 2 else {
            throw fail("'data_offsets' has \(offsetValues.count) elements, expected 2")
        }
        var offsets: [Int] = []
        for item in offsetValues {
            guard let offset = item.exactInteger else {
                throw fail("data_offsets element \(item.shortDescription) is not an integer")
            }
            guard offset >= 0 else { throw fail("data_offsets element \(offset) is negative") }
            offsets.append(offset)
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else {
            throw fail("data_offsets \(CheckpointError.list(offsets)) are reversed")
        }
        guard end <= dataLength else {
            throw fail("data_offsets \(CheckpointError.list(offsets)) run past the data buffer (\(dataLength) bytes)")
        }
        guard end - begin == byteCount else {
            throw fail(
                "data_offsets \(CheckpointError.list(offsets)) hold \(end - begin) bytes, but \(dtype.rawValue) \(CheckpointError.list(shape)) needs \(byteCount)"
            )
        }
        return Entry(dtype: dtype, shape: shape, count: count, begin: begin, end: end)
    }

    /// The tensors must cover the data buffer exactly, in some order: no overlap, no hole, nothing after.
    private static func checkTiling(_ entries: [String: Entry], dataLength: Int, fileName: String) throws(CheckpointError) {
        let ordered = entries.sorted { a, b in
            (a.value.begin, a.value.end, a.key) < (b.value.begin, b.value.end, b.key)
        }
        var previous: (name: String, entry: Entry)?
        var covered = 0
        for (name, entry) in ordered {
            if entry.begin < covered, let previous {
                throw CheckpointError(
                    .tensor, file: fileName, subject: CheckpointError.tensor(name),
                    "data_offsets \(CheckpointError.list([entry.begin, entry.end])) overlap tensor \(CheckpointError.quote(previous.name)) at \(CheckpointError.list([previous.entry.begin, previous.entry.end]))"
                )
            }
            if entry.begin > covered {
                throw CheckpointError(
                    .tensor, file: fileName, subject: CheckpointError.tensor(name),
                    "data_offsets \(CheckpointError.list([entry.begin, entry.end])) leave bytes \(covered)..<\(entry.begin) of the data buffer unused"
                )
            }
            covered = entry.end
            if entry.end > entry.begin { previous = (name, entry) }
        }
        guard covered == dataLength else {
            throw CheckpointError(
                .header, file: fileName, subject: nil,
                "\(dataLength - covered) bytes after the last tensor are not described by the header")
        }
    }

}

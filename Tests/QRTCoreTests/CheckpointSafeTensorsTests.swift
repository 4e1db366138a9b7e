import Foundation
import Testing

@testable import QRTCore

/// Builds tiny safetensors images, hostile or not, and writes them to a private temp directory.
struct SafeTensorsFixture {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("qrt-checkpoint-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// `length` overrides the 8-byte header length prefix.
    static func image(header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
        let headerBytes = Array(header.utf8)
        var out = Data()
        withUnsafeBytes(of: (length ?? UInt64(headerBytes.count)).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: data)
        return out
    }

    func write(_ data: Data, name: String = "model.safetensors") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    /// Opens `data` as a file and returns the error it must raise.
    func openError(_ data: Data) throws -> CheckpointError {
        let url = try write(data)
        do {
            _ = try SafeTensorsFile(contentsOf: url)
        } catch {
            return error
        }
        Issue.record("expected opening to fail")
        return CheckpointError(.io, file: "", subject: nil, "did not fail")
    }
}

/// The reader's validation: every malformed header is refused at open with a one-line error that
/// names the file and the tensor or field.
@Suite struct SafeTensorsCheckpointTests {
    static func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    }

    private func expectError(
        _ header: String, data: [UInt8] = [], length: UInt64? = nil, kind: CheckpointError.Kind,
        contains fragments: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        let error = try fixture.openError(SafeTensorsFixture.image(header: header, data: data, length: length))
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        let description = error.description
        #expect(description.hasPrefix("model.safetensors: "), "\(description)", sourceLocation: sourceLocation)
        #expect(!description.contains("\n"), sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(description.contains(fragment), "'\(fragment)' not in: \(description)", sourceLocation: sourceLocation)
        }
    }

    // MARK: - Length prefix

    @Test func truncatedFileShorterThanLengthPrefix() throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        for size in 0..<8 {
            let error = try fixture.openError(Data(repeating: 0x7B, count: size))
            #expect(error.kind == .header)
            #expect(error.description == "model.safetensors: file is \(size) bytes, shorter than the 8-byte header length")
        }
    }

    @Test func headerLongerThanFile() throws {
        try expectError("{}", length: 1_000, kind: .header, contains: ["header length 1000 bytes runs past the end of the file"])
        // A file cut inside its header.
        let full = SafeTensorsFixture.image(
            header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: Self.floatBytes([1]))
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        let error = try fixture.openError(full.prefix(30))
        #expect(error.description.contains("runs past the end of the file"))
    }

    @Test func absurdHeaderLength() throws {
        try expectError("{}", length: 100_000_001, kind: .header, contains: ["header length 100000001 bytes is absurd"])
        try expectError("{}", length: UInt64.max, kind: .header, contains: ["header length 18446744073709551615 bytes is absurd"])
        try expectError("{}", length: UInt64(Int64.max) + 1, kind: .header, contains: ["is absurd"])
    }

    // MARK: - JSON

    @Test func headerNotJSON() throws {
        try expectError("not json at all", kind: .header, contains: ["header: not valid JSON"])
        try expectError(#"{"a":{"dtype":"F32""#, kind: .header, contains: ["not valid JSON", "unexpected end"])
        try expectError(#"{"a":1,}"#, kind: .header, contains: ["not valid JSON"])
        try expectError("", kind: .header, contains: ["not valid JSON"])
        try expectError(#"{"x":"\ud800"}"#, kind: .header, contains: ["surrogate"])
        try expectError("{\"x\":\"a\u{01}\"}", kind: .header, contains: ["control character"])
        try expectError(#"{} {}"#, kind: .header, contains: ["after the JSON value"])
        try expectError(#"{"a":01}"#, kind: .header, contains: ["leading zero"])
    }

    @Test func invalidUTF8InHeader() throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        var image = SafeTensorsFixture.image(header: #"{"ab":{}}"#)
        image[10] = 0xFF  // inside the key "ab"
        let error = try fixture.openError(image)
        #expect(error.description.contains("UTF-8"), "\(error)")
    }

    @Test func headerNotAnObject() throws {
        try expectError("[1, 2]", kind: .header, contains: ["header: is a list, not a JSON object"])
        try expectError(#""text""#, kind: .header, contains: ["is a string, not a JSON object"])
    }

    @Test func deepNestingDoesNotCrash() throws {
        let deep = String(repeating: "[", count: 200_000)
        try expectError(deep, kind: .header, contains: ["nesting deeper than"])
        let deepObject = #"{"a":"# + String(repeating: #"{"a":"#, count: 10_000)
        try expectError(deepObject, kind: .header, contains: ["nesting deeper than"])
    }

    @Test func duplicateTensorName() throws {
        let entry = #"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        try expectError(
            #"{"w":\#(entry),"w":\#(entry)}"#, data: Self.floatBytes([1]), kind: .header, contains: ["duplicate key 'w'"])
    }

    // MARK: - Entries

    @Test func missingEntryFields() throws {
        try expectError(
            #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: Self.floatBytes([1]), kind: .tensor,
            contains: ["tensor 'w': missing 'dtype'"])
        try expectError(
            #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, data: Self.floatBytes([1]), kind: .tensor,
            contains: ["tensor 'w': missing 'shape'"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[1]}}"#, data: Self.floatBytes([1]), kind: .tensor,
            contains: ["tensor 'w': missing 'data_offsets'"])
        try expectError(#"{"w":[1,2]}"#, kind: .tensor, contains: ["tensor 'w': entry is a list, not an object"])
        try expectError(
            #"{"w":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}"#, data: Self.floatBytes([1]), kind: .tensor,
            contains: ["'dtype' is a number, not a string"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}"#, data: Self.floatBytes([1]), kind: .tensor,
            contains: ["'shape' is a number, not a list"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, data: Self.floatBytes([1, 2]), kind: .tensor,
            contains: ["'data_offsets' has 3 elements, expected 2"])
    }

    @Test func unknownDtype() throws {
        try expectError(
            #"{"model.backbone.w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, data: Self.floatBytes([1]),
            kind: .tensor, contains: ["tensor 'model.backbone.w': unknown dtype 'F33'"])
        try expectError(
            #"{"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}"#, data: Self.floatBytes([1]),
            kind: .tensor, contains: ["unknown dtype 'f32'"])
    }

    @Test func badDimensions() throws {
        let data = Self.floatBytes([1, 2])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: data, kind: .tensor,
            contains: ["tensor 'w': shape dimension -2 is negative"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data: data, kind: .tensor,
            contains: ["shape dimension 2.5 is not an integer"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: data, kind: .tensor,
            contains: ["shape dimension 2.0 is not an integer"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,8]}}"#, data: data, kind: .tensor,
            contains: ["shape dimension true is not an integer"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[1e1],"data_offsets":[0,8]}}"#, data: data, kind: .tensor,
            contains: ["is not an integer"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,8]}}"#, data: data,
            kind: .tensor, contains: ["is not an integer"])
    }

    @Test func shapeProductOverflow() throws {
        let data = Self.floatBytes([1, 2])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: data,
            kind: .tensor, contains: ["shape [4294967296, 4294967296] has too many elements"])
        // The element count fits, the byte count does not.
        try expectError(
            #"{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}"#, data: data,
            kind: .tensor, contains: ["has too many elements"])
        // A zero dimension makes any product empty: no overflow, 0 bytes.
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        let url = try fixture.write(
            SafeTensorsFixture.image(header: #"{"w":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}"#))
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(try file.floats("w").isEmpty)
    }

    @Test func reversedOffsets() throws {
        try expectError(
            #"{"model.backbone.weight":{"dtype":"F32","shape":[1],"data_offsets":[10,4]}}"#,
            data: [UInt8](repeating: 0, count: 12), kind: .tensor,
            contains: ["model.safetensors: tensor 'model.backbone.weight': data_offsets [10, 4] are reversed"])
    }

    @Test func outOfRangeOffsets() throws {
        try expectError(
            #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: Self.floatBytes([1]), kind: .tensor,
            contains: ["tensor 'w': data_offsets [0, 8] run past the data buffer (4 bytes)"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, data: Self.floatBytes([1]), kind: .tensor,
            contains: ["data_offsets element -4 is negative"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775804,9223372036854775807]}}"#,
            data: Self.floatBytes([1]), kind: .tensor, contains: ["run past the data buffer"])
    }

    @Test func overlappingOffsets() throws {
        let header = #"""
            {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}
            """#
        try expectError(
            header, data: Self.floatBytes([1, 2, 3]), kind: .tensor,
            contains: ["tensor 'b': data_offsets [4, 12] overlap tensor 'a' at [0, 8]"])
        // Identical ranges overlap too.
        let same = #"""
            {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}
            """#
        try expectError(same, data: Self.floatBytes([1]), kind: .tensor, contains: ["overlap tensor 'a'"])
    }

    @Test func gapsAndTrailingBytes() throws {
        try expectError(
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Self.floatBytes([1, 2]), kind: .tensor,
            contains: ["tensor 'w': data_offsets [4, 8] leave bytes 0..<4 of the data buffer unused"])
        try expectError(
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: Self.floatBytes([1, 2]), kind: .header,
            contains: ["4 bytes after the last tensor are not described by the header"])
    }

    @Test func byteLengthMismatch() throws {
        try expectError(
            #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Self.floatBytes([1, 2]), kind: .tensor,
            contains: ["tensor 'w': data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12"])
        try expectError(
            #"{"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], kind: .tensor,
            contains: ["hold 4 bytes, but F16 [2, 2] needs 8"])
    }

    @Test func metadata() throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        let url = try fixture.write(
            SafeTensorsFixture.image(
                header: #"{"__metadata__":{"format":"pt","source":"x"},"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#,
                data: Self.floatBytes([2.5])))
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata == ["format": "pt", "source": "x"])
        #expect(file.tensorNames == ["w"])
        #expect(file.info("w")?.shape == [])
        #expect(try file.floats("w", shape: []) == [2.5])

        try expectError(
            #"{"__metadata__":{"format":1}}"#, kind: .header,
            contains: ["field '__metadata__': value of 'format' is a number, not a string"])
        try expectError(#"{"__metadata__":[1]}"#, kind: .header, contains: ["field '__metadata__': is a list"])
    }

    @Test func hostileNamesStayOnOneLine() throws {
        let name = "evil\\nname\\u0007" + String(repeating: "x", count: 500)
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        let error = try fixture.openError(
            SafeTensorsFixture.image(header: #"{"\#(name)":{"dtype":"Q","shape":[],"data_offsets":[0,0]}}"#))
        #expect(!error.description.contains("\n"))
        #expect(error.description.contains(#"tensor 'evil\nname\u{7}xxx"#))
        #expect(error.description.count < 400)
    }

    @Test func emptyFileIsValid() throws {
        let file = try SafeTensorsFile(data: SafeTensorsFixture.image(header: "{}"), fileName: "empty.safetensors")
        #expect(file.tensorNames.isEmpty)
        // Space padding after the JSON is allowed.
        _ = try SafeTensorsFile(data: SafeTensorsFixture.image(header: "{}      "), fileName: "padded.safetensors")
    }

    @Test func unreadableFile() throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        #expect {
            try SafeTensorsFile(contentsOf: fixture.directory.appendingPathComponent("absent.safetensors"))
        } throws: { error in
            let error = error as! CheckpointError
            return error.kind == .io && error.description.hasPrefix("absent.safetensors: cannot read")
        }
    }

    // MARK: - Access

    @Test func wrongShapeAndMissingTensor() throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        let url = try fixture.write(
            SafeTensorsFixture.image(
                header: #"{"model.enc_score_head.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#,
                data: Self.floatBytes([1, 2, 3, 4, 5, 6])))
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(try file.floats("model.enc_score_head.weight", shape: [2, 3]) == [1, 2, 3, 4, 5, 6])

        #expect {
            try file.floats("model.enc_score_head.weight", shape: [80, 256])
        } throws: { error in
            let error = error as! CheckpointError
            return error.kind == .shapeMismatch
                && error.description
                    == "model.safetensors: tensor 'model.enc_score_head.weight': expected shape [80, 256], found [2, 3]"
        }
        #expect {
            try file.tensor("model.enc_score_head.weight", shape: [3, 2])
        } throws: { ($0 as! CheckpointError).kind == .shapeMismatch }
        #expect {
            try file.floats("model.enc_score_head.bias")
        } throws: { error in
            let error = error as! CheckpointError
            return error.kind == .missingTensor
                && error.description.hasPrefix("model.safetensors: tensor 'model.enc_score_head.bias': is missing")
        }
        #expect(file.info("nope") == nil)
        #expect(!file.contains("nope"))
        let tensor = try file.tensor("model.enc_score_head.weight", shape: [2, 3])
        #expect(tensor.toArray() == [1, 2, 3, 4, 5, 6])
    }

    /// A file written by Python `safetensors.torch.save_file` (0.8.0): F32, F16, BF16, I64, F64,
    /// I32, U8, an empty tensor and metadata, with values printed by PyTorch.
    @Test func readsReferenceFile() throws {
        let base64 = """
            EAIAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJub3RlIjoiaGVsbG8iLCJmb3JtYXQiOiJwdCJ9LCJkLmk2NCI6eyJkdHlwZSI6Ikk2NCIsInNo\
            YXBlIjpbNF0sImRhdGFfb2Zmc2V0cyI6WzAsMzJdfSwiZS5mNjQiOnsiZHR5cGUiOiJGNjQiLCJzaGFwZSI6WzJdLCJkYXRhX29mZnNldHMi\
            OlszMiw0OF19LCJhLmYzMiI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMiwzXSwiZGF0YV9vZmZzZXRzIjpbNDgsNzJdfSwiaC5lbXB0eSI6\
            eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMCwzXSwiZGF0YV9vZmZzZXRzIjpbNzIsNzJdfSwiZi5pMzIiOnsiZHR5cGUiOiJJMzIiLCJzaGFw\
            ZSI6WzIsMV0sImRhdGFfb2Zmc2V0cyI6WzcyLDgwXX0sImMuYmYxNiI6eyJkdHlwZSI6IkJGMTYiLCJzaGFwZSI6WzRdLCJkYXRhX29mZnNl\
            dHMiOls4MCw4OF19LCJiLmYxNiI6eyJkdHlwZSI6IkYxNiIsInNoYXBlIjpbNV0sImRhdGFfb2Zmc2V0cyI6Wzg4LDk4XX0sImcudTgiOnsi\
            ZHR5cGUiOiJVOCIsInNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6Wzk4LDEwMF19fSAAAAAAAAAAAP//////////AAAAAAABAAAHAAAAAAAA\
            AJqZmZmZmbk/AAAAAAAABMAAAMA/AAAAwAAAUEAAAAAAbxKDOgAA4MADAAAA/P///4A/QMBJQEpxADwAuP97AAQBAAD/
            """
        let file = try SafeTensorsFile(data: try #require(Data(base64Encoded: base64)), fileName: "py.safetensors")
        #expect(file.metadata == ["format": "pt", "note": "hello"])
        #expect(file.tensorNames == ["a.f32", "b.f16", "c.bf16", "d.i64", "e.f64", "f.i32", "g.u8", "h.empty"])
        #expect(file.info("c.bf16")?.dtype == .bf16)
        #expect(try file.floats("a.f32", shape: [2, 3]) == [1.5, -2.0, 3.25, 0.0, 0.0010000000474974513, -7.0])
        #expect(try file.floats("b.f16") == [1.0, -0.5, 65504.0, 6.103515625e-05, 5.960464477539063e-08])
        #expect(try file.floats("c.bf16") == [1.0, -3.0, 3.140625, 1.0002555517425873e+30])
        #expect(try file.int64s("d.i64") == [0, -1, 1_099_511_627_776, 7])
        #expect(try file.floats("d.i64") == [0, -1, 1_099_511_627_776, 7])
        #expect(try file.floats("e.f64") == [0.10000000149011612, -2.5])
        #expect(try file.floats("f.i32", shape: [2, 1]) == [3, -4])
        #expect(try file.int64s("g.u8") == [0, 255])
        #expect(try file.floats("h.empty", shape: [0, 3]) == [])
        #expect {
            try file.int64s("a.f32")
        } throws: { ($0 as! CheckpointError).description == "py.safetensors: tensor 'a.f32': dtype F32 is not an integer type" }
    }

    // MARK: - Conversions

    /// Every half-precision bit pattern: Swift's Float16 path against the bit-level reference,
    /// and both against known values.
    @Test func float16ConversionIsExact() {
        for bits in UInt16.min...UInt16.max {
            let fast = SafeTensorsScalar.f16(bits)
            let reference = SafeTensorsScalar.f16Reference(bits)
            if reference.isNaN {
                #expect(fast.isNaN)
            } else if fast.bitPattern != reference.bitPattern {
                Issue.record("F16 0x\(String(bits, radix: 16)): \(fast) vs reference \(reference)")
            }
            // Exact: converting back gives the same half.
            if !reference.isNaN {
                #expect(Float16(reference).bitPattern == bits)
            }
        }
        #expect(SafeTensorsScalar.f16Reference(0x3C00) == 1.0)
        #expect(SafeTensorsScalar.f16Reference(0xC000) == -2.0)
        #expect(SafeTensorsScalar.f16Reference(0x7BFF) == 65504.0)
        #expect(SafeTensorsScalar.f16Reference(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(SafeTensorsScalar.f16Reference(0x03FF) == Float(1023) * Float(sign: .plus, exponent: -24, significand: 1))
        #expect(SafeTensorsScalar.f16Reference(0x0400) == Float(sign: .plus, exponent: -14, significand: 1))
        #expect(SafeTensorsScalar.f16Reference(0x7C00) == .infinity)
        #expect(SafeTensorsScalar.f16Reference(0xFC00) == -.infinity)
        #expect(SafeTensorsScalar.f16Reference(0x8000).bitPattern == (-Float(0)).bitPattern)
        #expect(SafeTensorsScalar.f16Reference(0x7E00).isNaN)
    }

    @Test func bfloat16ConversionIsTheUpperHalf() {
        #expect(SafeTensorsScalar.bf16(0x3F80) == 1.0)
        #expect(SafeTensorsScalar.bf16(0xC040) == -3.0)
        #expect(SafeTensorsScalar.bf16(0x7F80) == .infinity)
        #expect(SafeTensorsScalar.bf16(0x0001) == Float(bitPattern: 0x0001_0000))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let value = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator) & 0xFFFF_0000)
            let bits = UInt16(value.bitPattern >> 16)
            #expect(SafeTensorsScalar.bf16(bits).bitPattern == value.bitPattern)
        }
    }

    @Test func halfTensorsThroughTheFile() throws {
        let halves: [UInt16] = [0x3C00, 0xB800, 0x0001, 0x7BFF, 0x3555]
        let bytes = halves.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } }
        var writer = SafeTensorsWriter()
        try writer.add("h", dtype: .f16, shape: [5], bytes: bytes)
        try writer.add("b", dtype: .bf16, shape: [5], bytes: bytes)
        let file = try SafeTensorsFile(data: writer.serialized(), fileName: "half.safetensors")
        #expect(try file.floats("h") == halves.map { Float(Float16(bitPattern: $0)) })
        #expect(try file.floats("h")[4] == 0.333251953125)
        #expect(try file.floats("b") == halves.map { Float(bitPattern: UInt32($0) << 16) })
    }

    @Test func float8Conversions() {
        // E4M3FN: 0x38 = 1.0, 0x7E = 448 (max), 0x01 = 2^-9, 0x7F NaN, 0xB8 = -1.
        #expect(SafeTensorsScalar.f8e4m3(0x38) == 1.0)
        #expect(SafeTensorsScalar.f8e4m3(0x7E) == 448.0)
        #expect(SafeTensorsScalar.f8e4m3(0x01) == Float(sign: .plus, exponent: -9, significand: 1))
        #expect(SafeTensorsScalar.f8e4m3(0x7F).isNaN)
        #expect(SafeTensorsScalar.f8e4m3(0xB8) == -1.0)
        // E5M2: 0x3C = 1.0, 0x7B = 57344 (max), 0x7C = inf.
        #expect(SafeTensorsScalar.f8e5m2(0x3C) == 1.0)
        #expect(SafeTensorsScalar.f8e5m2(0x7B) == 57344.0)
        #expect(SafeTensorsScalar.f8e5m2(0x7C) == .infinity)
    }
}

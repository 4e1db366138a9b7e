import Foundation
import Testing

@testable import QRTCore

/// `SafeTensorsWriter`: what it writes reads back bit for bit, with the layout the reference
/// implementation expects, and the file appears atomically.
@Suite struct WriterCheckpointTests {
    @Test func roundTrip() throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "quantization": "w8a8 \"ema-mse\"\n"])
        let weights: [Float] = [1, -2.5, .pi, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        try writer.add("model.layer.weight", shape: [2, 3], floats: weights)
        try writer.add("model.layer.bias", shape: [3], floats: [0.5, 0.25, -1])
        try writer.add("indices", shape: [4], int64s: [0, -1, Int64.max, Int64.min])
        try writer.add("scalar", shape: [], floats: [42])
        try writer.add("empty", shape: [0, 7], floats: [])
        try writer.add("packed", dtype: .u8, shape: [3], bytes: [0x12, 0xF0, 0xFF])
        try writer.add("tricky \"name\"\\ü", shape: [1], floats: [7])

        let url = fixture.directory.appendingPathComponent("out.safetensors")
        try writer.write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata == writer.metadata)
        #expect(Set(file.tensorNames) == Set(writer.tensorNames))
        #expect(file.info("model.layer.weight")?.dtype == .f32)
        #expect(file.info("model.layer.weight")?.shape == [2, 3])
        let read = try file.floats("model.layer.weight", shape: [2, 3])
        #expect(read.map(\.bitPattern) == weights.map(\.bitPattern))
        #expect(try file.floats("model.layer.bias", shape: [3]) == [0.5, 0.25, -1])
        #expect(file.info("indices")?.dtype == .i64)
        #expect(try file.int64s("indices") == [0, -1, Int64.max, Int64.min])
        #expect(try file.floats("scalar", shape: []) == [42])
        #expect(try file.floats("empty", shape: [0, 7]) == [])
        #expect(try file.rawBytes("packed") == Data([0x12, 0xF0, 0xFF]))
        #expect(try file.floats("tricky \"name\"\\ü") == [7])

        // Header padded to 8 bytes, so the data buffer (and the first tensor) is 8-byte aligned.
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        #expect(headerLength % 8 == 0)
        #expect(bytes.count == 8 + Int(headerLength) + 24 + 12 + 32 + 4 + 3 + 4)
        #expect(writer.serialized() == bytes)
    }

    @Test func writeIsAtomicAndReplaces() throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        let url = fixture.directory.appendingPathComponent("state.safetensors")
        var first = SafeTensorsWriter()
        try first.add("a", shape: [1], floats: [1])
        try first.write(to: url)
        var second = SafeTensorsWriter()
        try second.add("b", shape: [2], floats: [2, 3])
        try second.write(to: url)

        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.tensorNames == ["b"])
        // No temporary file is left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.directory.path)
        #expect(names == ["state.safetensors"])
    }

    @Test func writeToMissingDirectoryFails() throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        var writer = SafeTensorsWriter()
        try writer.add("a", shape: [1], floats: [1])
        let url = fixture.directory.appendingPathComponent("no/such/dir/x.safetensors")
        #expect {
            try writer.write(to: url)
        } throws: { error in
            let error = error as! CheckpointError
            return error.kind == .io && error.description.hasPrefix("x.safetensors: cannot create temporary file")
        }
    }

    @Test func rejectsInconsistentTensors() throws {
        var writer = SafeTensorsWriter()
        try writer.add("a", shape: [2], floats: [1, 2])
        #expect(throws: CheckpointError.self) { try writer.add("a", shape: [1], floats: [1]) }
        #expect {
            try writer.add("b", shape: [2, 2], floats: [1, 2, 3])
        } throws: { error in
            (error as! CheckpointError).description == "<writer>: tensor 'b': shape [2, 2] needs 4 elements, got 3"
        }
        #expect(throws: CheckpointError.self) { try writer.add("c", shape: [-1], floats: []) }
        #expect(throws: CheckpointError.self) { try writer.add("__metadata__", shape: [1], floats: [1]) }
        #expect(throws: CheckpointError.self) { try writer.add("d", dtype: .f16, shape: [1], bytes: [1, 2, 3]) }
        #expect(writer.tensorNames == ["a"])
    }

    /// Reading back many tensors of mixed dtypes at unaligned offsets.
    @Test func manyTensorsRoundTrip() throws {
        var writer = SafeTensorsWriter()
        var expected: [String: [Float]] = [:]
        var generator = SystemRandomNumberGenerator()
        for index in 0..<50 {
            let count = Int.random(in: 0...40, using: &generator)
            let values = (0..<count).map { _ in Float.random(in: -100...100, using: &generator) }
            try writer.add("t\(index)", shape: [count], floats: values)
            expected["t\(index)"] = values
            try writer.add("odd\(index)", dtype: .u8, shape: [index % 3], bytes: Array(repeating: 9, count: index % 3))
        }
        let file = try SafeTensorsFile(data: writer.serialized(), fileName: "many.safetensors")
        for (name, values) in expected {
            #expect(try file.floats(name, shape: [values.count]) == values)
        }
    }
}

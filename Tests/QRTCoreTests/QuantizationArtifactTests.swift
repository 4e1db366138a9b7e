import Foundation
import Testing
@testable import QRTCore

/// The `.qrt` artifact: what is written loads back to the same INT8 model, and damaged or hostile
/// artifacts fail with one line naming the file and the tensor or field.
@Suite(.serialized)
struct QuantizationArtifactTests {
    static let directory = QuantizedExecutionTests.directory

    static func quantizedModel(method: QuantizationMethod = .minMax, bits: BitWidths = BitWidths("w8a8")!) throws
        -> (model: RTDetrModel, image: Tensor)
    {
        let model = try RTDetrModel.load(directory: directory)
        let image = try QuantizedExecutionTests.fixtureImage()
        _ = try Calibrator(model: model, plan: QuantizationPlan(method: method, bits: bits))
            .calibrate(images: [image], progress: { _, _, _ in })
        return (model, image)
    }

    static func provenance(_ bits: BitWidths) -> QRTArtifact.Provenance {
        .init(method: .minMax, bits: bits, rounds: 0, keepFP32: [], sourceName: "tiny", sourceSHA256: "0",
              calibrationImages: ["fixture"], logitsSQNR: 0, inputSize: 64)
    }

    func temporaryFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("qrt-artifact-\(UUID().uuidString)-\(name)")
    }

    @Test(arguments: ["w8a8", "w4a8", "w6a6", "w4a4"])
    func roundTripGivesTheSameINT8Outputs(bits: String) throws {
        let width = BitWidths(bits)!
        let (model, image) = try Self.quantizedModel(bits: width)
        let url = temporaryFile("\(bits).qrt")
        defer { try? FileManager.default.removeItem(at: url) }
        try QRTArtifact.write(model, provenance: Self.provenance(width), to: url)
        model.executionMode = .int8
        let expected = try model(image).logits.toArray()
        let loaded = try RTDetrModel.load(path: url)
        #expect(loaded.executionMode == .int8)
        #expect(loaded.quantizedLayerCount == model.quantizedLayerCount)
        #expect(try loaded(image).logits.toArray() == expected)
        #expect(try PreferredInputSize.of(url) == 64, "the calibration size is the artifact's default size")
    }

    @Test func fourBitArtifactIsSmall() throws {
        let (model, _) = try Self.quantizedModel(bits: BitWidths("w4a8")!)
        let url = temporaryFile("w4.qrt")
        defer { try? FileManager.default.removeItem(at: url) }
        try QRTArtifact.write(model, provenance: Self.provenance(BitWidths("w4a8")!), to: url)
        let artifact = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        let source = try FileManager.default.attributesOfItem(
            atPath: Self.directory.appendingPathComponent("model.safetensors").path)[.size] as! Int
        // The tiny model is bias- and LayerNorm-heavy; real checkpoints shrink further.
        #expect(Double(artifact) < 0.3 * Double(source))
    }

    /// Rewrites one tensor of a valid artifact and expects loading to fail naming it.
    private func expectRejection(_ mutate: (inout SafeTensorsWriter, SafeTensorsFile) throws -> Void,
                                 mentioning fragment: String) throws {
        let (model, _) = try Self.quantizedModel()
        let good = temporaryFile("good.qrt"), bad = temporaryFile("bad.qrt")
        defer { try? FileManager.default.removeItem(at: good); try? FileManager.default.removeItem(at: bad) }
        try QRTArtifact.write(model, provenance: Self.provenance(BitWidths("w8a8")!), to: good)
        let file = try SafeTensorsFile(contentsOf: good)
        var writer = SafeTensorsWriter(metadata: file.metadata)
        try mutate(&writer, file)
        try writer.write(to: bad)
        do {
            _ = try RTDetrModel.load(path: bad)
            Issue.record("a damaged artifact loaded")
        } catch {
            let message = "\(error)"
            #expect(!message.contains("\n"), "error spans lines: \(message)")
            #expect(message.contains(fragment), "error does not name \(fragment): \(message)")
        }
    }

    private func copy(_ file: SafeTensorsFile, into writer: inout SafeTensorsWriter, except skipped: Set<String>) throws {
        for name in file.tensorNames where !skipped.contains(name) {
            let info = file.info(name)!
            try writer.add(name, dtype: info.dtype, shape: info.shape, bytes: [UInt8](try file.rawBytes(name)))
        }
    }

    @Test func missingLayerTensorIsNamed() throws {
        let target = "model.decoder.layers.0.encoder_attn.value_proj#weight_scales"
        try expectRejection({ writer, file in try copy(file, into: &writer, except: [target]) }, mentioning: target)
    }

    @Test func invalidQuantizationFieldsAreNamed() throws {
        let target = "model.enc_score_head#quantization"
        try expectRejection({ writer, file in
            try copy(file, into: &writer, except: [target])
            try writer.add(target, shape: [4], int64s: [8, 300, 0, 255])
        }, mentioning: target)
    }

    @Test func truncatedLevelsAreNamed() throws {
        let target = "model.enc_score_head#levels"
        try expectRejection({ writer, file in
            try copy(file, into: &writer, except: [target])
            try writer.add(target, dtype: .u8, shape: [3], bytes: [1, 2, 3])
        }, mentioning: target)
    }

    @Test func foreignTensorIsNamed() throws {
        try expectRejection({ writer, file in
            try copy(file, into: &writer, except: [])
            try writer.add("stowaway", shape: [1], floats: [0])
        }, mentioning: "stowaway")
    }

    @Test func wrongFormatMetadataIsNamed() throws {
        try expectRejection({ writer, file in
            writer.metadata["format"] = "something-else"
            try copy(file, into: &writer, except: [])
        }, mentioning: "format")
    }

    @Test func truncatedFileIsRejected() throws {
        let (model, _) = try Self.quantizedModel()
        let url = temporaryFile("cut.qrt")
        defer { try? FileManager.default.removeItem(at: url) }
        try QRTArtifact.write(model, provenance: Self.provenance(BitWidths("w8a8")!), to: url)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        #expect(throws: CheckpointError.self) { _ = try RTDetrModel.load(path: url) }
    }
}

/// Each QRT stage lowers the error it targets on the fixture model.
struct QuantizationCalibrationTests {
    @Test func bothStagesLowerTheirError() throws {
        let model = try RTDetrModel.load(directory: QuantizedExecutionTests.directory)
        let image = try QuantizedExecutionTests.fixtureImage()
        let summary = try Calibrator(model: model, plan: QuantizationPlan(method: .qrt, bits: BitWidths("w4a8")!, rounds: 1))
            .calibrate(images: [image], progress: { _, _, _ in })
        #expect(summary.stages.count == 2)
        for stage in summary.stages {
            #expect(stage.errorAfter < stage.errorBefore, "\(stage.name): \(stage.errorBefore) → \(stage.errorAfter)")
        }
        #expect(summary.quantizedLayers == model.quantizationContext.layers.count)
    }

    /// QRT's result is never worse end to end than its EMA-MSE starting point on the calibration
    /// images: the reconstruction is undone when it would be.
    @Test(arguments: ["w8a8", "w4a8"])
    func reconstructionNeverLowersOutputSQNR(bits: String) throws {
        let image = try QuantizedExecutionTests.fixtureImage()
        func summary(_ method: QuantizationMethod) throws -> Calibrator.Summary {
            let model = try RTDetrModel.load(directory: QuantizedExecutionTests.directory)
            return try Calibrator(model: model, plan: QuantizationPlan(method: method, bits: BitWidths(bits)!, rounds: 1))
                .calibrate(images: [image], progress: { _, _, _ in })
        }
        let start = try summary(.emaMSE), qrt = try summary(.qrt)
        #expect(qrt.logitsSQNR + qrt.boxesSQNR >= start.logitsSQNR + start.boxesSQNR - 1e-9)
        if let rejected = qrt.rejectedReconstruction {
            #expect(rejected.logits + rejected.boxes < start.logitsSQNR + start.boxesSQNR)
            #expect(abs(qrt.logitsSQNR - start.logitsSQNR) < 1e-9)
        }
    }

    @Test func keepFP32PatternsLeaveLayersUnquantized() throws {
        let model = try RTDetrModel.load(directory: QuantizedExecutionTests.directory)
        let image = try QuantizedExecutionTests.fixtureImage()
        let plan = QuantizationPlan(method: .minMax, bits: BitWidths("w8a8")!, keepFP32: ["model.decoder.bbox_embed.*"])
        let summary = try Calibrator(model: model, plan: plan).calibrate(images: [image], progress: { _, _, _ in })
        #expect(!summary.fp32Layers.isEmpty)
        #expect(summary.fp32Layers.allSatisfy { $0.hasPrefix("model.decoder.bbox_embed.") })
        for layer in model.quantizationContext.layers {
            #expect((layer.quantization == nil) == layer.name.hasPrefix("model.decoder.bbox_embed."))
        }
    }

    @Test func bitWidthsParse() {
        #expect(BitWidths("w4a8") == BitWidths("W4A8"))
        #expect(BitWidths("w4a8")?.weights == 4 && BitWidths("w4a8")?.activations == 8)
        #expect(BitWidths("w3a8") == nil)
        #expect(BitWidths("w8") == nil)
    }
}

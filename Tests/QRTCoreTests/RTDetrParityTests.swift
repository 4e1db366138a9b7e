import Foundation
import Testing
@testable import QRTCore

/// The FP32 engine against transformers' PyTorch RT-DETR on the tiny fixture
/// (tools/reference/make_fixture.py; tensor table in tools/reference/FIXTURE.md).
/// Each intermediate is checked too, so a failure names the layer that diverged.
@Suite(.serialized)
struct RTDetrParityTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("tiny")

    struct Run {
        let reference: SafeTensorsFile
        let taps: IntermediateTaps
    }

    static let run: Result<Run, any Error> = Result {
        let reference = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("reference.safetensors"))
        let model = try RTDetrModel.load(directory: directory)
        let pixels = try reference.floats("pixel_values")
        let shape = reference.info("pixel_values")!.shape
        let image = Tensor(shape: [shape[2], shape[3], 3], values: nchwToNHWC(pixels, channels: 3, height: shape[2], width: shape[3]))
        let taps = IntermediateTaps()
        model.taps = taps
        _ = try model(image)
        return Run(reference: reference, taps: taps)
    }

    static func nchwToNHWC(_ values: [Float], channels: Int, height: Int, width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for c in 0..<channels {
            for p in 0..<(height * width) { out[p * channels + c] = values[c * height * width + p] }
        }
        return out
    }

    /// Max |Δ| between our tap and the reference tensor (NCHW maps are compared in NHWC).
    func maxDifference(_ tap: String, _ referenceName: String) throws -> Float {
        try compare(tap, referenceName).difference
    }

    /// Intermediate maps reach magnitudes in the hundreds; float32 summation order alone moves them
    /// by a few ulps, so they are held to a relative bound.
    func relativeDifference(_ tap: String, _ referenceName: String) throws -> Float {
        let (difference, magnitude) = try compare(tap, referenceName)
        return difference / max(1, magnitude)
    }

    func compare(_ tap: String, _ referenceName: String) throws -> (difference: Float, magnitude: Float) {
        let run = try Self.run.get()
        let ours = try #require(run.taps.tensors[tap], "no tap \(tap)")
        let shape = try #require(run.reference.info(referenceName)?.shape)
        var expected = try run.reference.floats(referenceName)
        if shape.count == 4 { expected = Self.nchwToNHWC(expected, channels: shape[1], height: shape[2], width: shape[3]) }
        #expect(ours.values.count == expected.count, "\(tap): \(ours.shape) vs reference \(shape)")
        let difference = zip(ours.values, expected).reduce(0) { max($0, abs($1.0 - $1.1)) }
        return (difference, expected.reduce(0) { max($0, abs($1)) })
    }

    @Test(arguments: 0..<3)
    func backboneFeatureMaps(level: Int) throws {
        #expect(try relativeDifference("backbone.\(level)", "backbone.feature_maps.\(level)") <= 1e-5)
    }

    @Test(arguments: 0..<3)
    func encoderInputProjections(level: Int) throws {
        #expect(try relativeDifference("encoder_input_proj.\(level)", "encoder_input_proj.\(level)") <= 1e-5)
    }

    @Test(arguments: 0..<3)
    func encoderOutputs(level: Int) throws {
        #expect(try relativeDifference("encoder_output.\(level)", "encoder.outputs.\(level)") <= 1e-5)
    }

    /// Each decoder layer's output: cross-attention errors that the final heads might mask show here.
    @Test func decoderLayerOutputs() throws {
        let run = try Self.run.get()
        let shape = try #require(run.reference.info("decoder.intermediate_hidden_states")?.shape)
        let expected = try run.reference.floats("decoder.intermediate_hidden_states")
        let (layers, perLayer) = (shape[1], shape[2] * shape[3])
        for layer in 0..<layers {
            let ours = try #require(run.taps.tensors["decoder.hidden.\(layer)"]).values
            let reference = expected[(layer * perLayer)..<((layer + 1) * perLayer)]
            let difference = zip(ours, reference).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(difference <= 1e-4, "decoder layer \(layer): max |Δ| \(difference)")
        }
    }

    @Test func selectedQueriesAreIdentical() throws {
        let run = try Self.run.get()
        let ours = try #require(run.taps.tensors["enc_topk_indices"]).values.map { Int($0) }
        let expected = try run.reference.int64s("topk_indices").map { Int($0) }
        #expect(ours == expected)
    }

    @Test func logitsWithinBound() throws {
        #expect(try maxDifference("logits", "logits") <= 1e-3)
    }

    @Test func boxesWithinBound() throws {
        #expect(try maxDifference("pred_boxes", "pred_boxes") <= 1e-4)
    }
}

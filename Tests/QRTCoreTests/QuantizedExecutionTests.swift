import Foundation
import Testing
@testable import QRTCore

/// The INT8 executor against the fake-quant executor on the tiny fixture model, W8A8 with
/// MinMax ranges from the fixture image: at every quant point the integer path must see the
/// same activation codes as fake-quant, within one quantization step.
@Suite(.serialized)
struct QuantizedExecutionTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("tiny")

    static func fixtureImage() throws -> Tensor {
        let reference = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("reference.safetensors"))
        let shape = reference.info("pixel_values")!.shape
        return Tensor(shape: [shape[2], shape[3], 3],
                      values: RTDetrParityTests.nchwToNHWC(try reference.floats("pixel_values"), channels: 3,
                                                           height: shape[2], width: shape[3]))
    }

    /// Quantizes every layer: MinMax input ranges observed on `image`, per-channel 8-bit weights.
    static func quantizeMinMax(_ model: RTDetrModel, on image: Tensor) throws {
        let context = model.quantizationContext
        var ranges: [ObjectIdentifier: ClosedRange<Float>] = [:]
        context.mode = .fp32
        context.inputObserver = { layer, values, _ in
            var (low, high) = (Float.infinity, -Float.infinity)
            for v in values { low = min(low, v); high = max(high, v) }
            let key = ObjectIdentifier(layer)
            let old = ranges[key] ?? low...high
            ranges[key] = min(old.lowerBound, low)...max(old.upperBound, high)
        }
        _ = try model(image)
        context.inputObserver = nil
        for layer in context.layers {
            let weights = layer.weights.withUnsafeBufferPointer {
                WeightQuantizer(bits: 8, search: .minMax).quantize($0, outputChannels: layer.outputChannels)
            }
            let range = try #require(ranges[ObjectIdentifier(layer)], "layer \(layer.name) never ran")
            layer.quantization = LayerQuantization(weights: weights, input: .asymmetric(range: range, bits: 8))
        }
    }

    /// Each layer's input codes (its FP32 input quantized with its own parameters) in one run.
    static func inputCodes(_ model: RTDetrModel, _ image: Tensor, mode: ExecutionMode) throws
        -> (codes: [String: [Int32]], logits: [Float])
    {
        var codes: [String: [Int32]] = [:]
        model.quantizationContext.mode = mode
        model.quantizationContext.inputObserver = { layer, values, _ in
            let parameters = layer.quantization!.input
            codes[layer.name] = values.map { parameters.quantize($0) }
        }
        defer { model.quantizationContext.inputObserver = nil }
        let (logits, _) = try model(image)
        return (codes, logits.toArray())
    }

    @Test func int8MatchesFakeQuantWithinOneStepAtEveryQuantPoint() throws {
        let model = try RTDetrModel.load(directory: Self.directory)
        let image = try Self.fixtureImage()
        try Self.quantizeMinMax(model, on: image)
        let fake = try Self.inputCodes(model, image, mode: .fakeQuant)
        let int8 = try Self.inputCodes(model, image, mode: .int8)
        #expect(fake.codes.count == model.quantizationContext.layers.count)
        for layer in model.quantizationContext.layers {
            let a = try #require(fake.codes[layer.name]), b = try #require(int8.codes[layer.name])
            let worst = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
            #expect(worst <= 1, "\(layer.name): INT8 codes differ from fake-quant by \(worst) steps")
        }
        let logitDifference = zip(fake.logits, int8.logits).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(logitDifference < 0.05)
    }

    /// Online requantization swaps a layer's activation parameters between frames: only that layer's
    /// kernel is rebuilt, and putting the old parameters back restores the outputs exactly.
    @Test func activationParametersAreReplaceableAtRunTime() throws {
        let model = try RTDetrModel.load(directory: Self.directory)
        let image = try Self.fixtureImage()
        try Self.quantizeMinMax(model, on: image)
        model.quantizationContext.mode = .int8
        let before = try model(image).logits.toArray()
        let layer = try #require(model.quantizationContext.layers.first { $0.name.hasSuffix("enc_score_head") })
        let original = try #require(layer.quantization)
        var narrowed = original
        let range = original.input.representableRange
        narrowed.input = .asymmetric(range: (range.lowerBound * 0.5)...(range.upperBound * 0.5), bits: 8)
        layer.quantization = narrowed
        let changed = try model(image).logits.toArray()
        layer.quantization = original
        let restored = try model(image).logits.toArray()
        #expect(changed != before)
        #expect(restored == before)
    }

    @Test func fakeQuantChangesOutputsAndFP32ModeRestoresThem() throws {
        let model = try RTDetrModel.load(directory: Self.directory)
        let image = try Self.fixtureImage()
        let reference = try model(image).logits.toArray()
        try Self.quantizeMinMax(model, on: image)
        model.quantizationContext.mode = .fakeQuant
        let quantized = try model(image).logits.toArray()
        model.quantizationContext.mode = .fp32
        let restored = try model(image).logits.toArray()
        #expect(restored == reference)
        #expect(quantized != reference)
    }
}

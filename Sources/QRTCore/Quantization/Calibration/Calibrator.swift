import Foundation

/// Post-training quantization of a loaded model: activation statistics over calibration images,
/// per-channel weight quantization, and for QRT the two-stage reconstruction.
public final class Calibrator {
    public struct StageReport: Sendable {
        public let name: String
        /// Mean relative squared error of the affected outputs, before and after the stage.
        public let errorBefore: Double
        public let errorAfter: Double
    }

    public struct Summary: Sendable {
        public var quantizedLayers = 0
        public var fp32Layers: [String] = []
        public var stages: [StageReport] = []
        /// Signal-to-quantization-noise ratio (dB) of the INT8 model's logits and boxes against
        /// FP32's, over the calibration images (`OutputComparison`).
        public var logitsSQNR = 0.0
        public var boxesSQNR = 0.0
        /// Share of query slots whose seed token both models selected.
        public var querySelectionOverlap = 0.0
        /// Layers this CPU's integer kernels run on fewer activation levels than calibrated (no
        /// VNNI: `IntegerDotProduct`), and the fewest levels among them.
        public var narrowedLayers = 0
        public var fewestLevels = 256
        /// Set when QRT's reconstruction made the outputs worse than its EMA-MSE starting point on
        /// the calibration images and was undone: the logits and boxes SQNR it had reached.
        public var rejectedReconstruction: (logits: Double, boxes: Double)?
    }

    public typealias Progress = (_ stage: String, _ done: Int, _ total: Int) -> Void

    let model: RTDetrModel
    let plan: QuantizationPlan
    private var context: QuantizationContext { model.quantizationContext }

    public init(model: RTDetrModel, plan: QuantizationPlan) {
        self.model = model
        self.plan = plan
    }

    public func calibrate(images: [Tensor], progress: Progress) throws -> Summary {
        precondition(!images.isEmpty, "calibration needs at least one image")
        var summary = Summary()
        let observers = try observeActivations(images, progress: progress)
        for layer in context.layers {
            if plan.keepsFP32(layer.name) {
                layer.quantization = nil
                summary.fp32Layers.append(layer.name)
                continue
            }
            let weights = layer.weights.withUnsafeBufferPointer {
                WeightQuantizer(bits: plan.bits.weights, search: plan.method.weightSearch)
                    .quantize($0, outputChannels: layer.outputChannels)
            }
            guard let observer = observers[ObjectIdentifier(layer)] else {
                throw CalibrationError(description: "layer \(layer.name) never ran on the calibration images")
            }
            layer.quantization = LayerQuantization(weights: weights, input: observer.parameters(bits: plan.bits.activations))
            summary.quantizedLayers += 1
        }
        var comparison = try outputComparison(images, progress: progress)
        if plan.method == .qrt {
            // The stages minimize layer-by-layer errors; kept only if the whole model's outputs
            // improve too (logits and boxes SQNR together), else the starting point stays.
            let start = context.layers.map(\.quantization)
            summary.stages = try TwoStageReconstruction(model: model, plan: plan)
                .run(images: images, progress: progress)
            let reconstructed = try outputComparison(images, progress: progress)
            if reconstructed.logits.decibels + reconstructed.boxes.decibels
                < comparison.logits.decibels + comparison.boxes.decibels {
                for (layer, quantization) in zip(context.layers, start) { layer.quantization = quantization }
                summary.rejectedReconstruction = (reconstructed.logits.decibels, reconstructed.boxes.decibels)
            } else {
                comparison = reconstructed
            }
        }
        // After reconstruction: its re-rounded weights decide how many levels a layer can run.
        (summary.narrowedLayers, summary.fewestLevels) = context.narrowedInputs()
        (summary.logitsSQNR, summary.boxesSQNR) = (comparison.logits.decibels, comparison.boxes.decibels)
        summary.querySelectionOverlap = comparison.overlap
        context.mode = .int8
        return summary
    }

    /// One FP32 pass over the images feeding each layer's observer with its input.
    private func observeActivations(_ images: [Tensor], progress: Progress) throws
        -> [ObjectIdentifier: any ActivationObserver]
    {
        var observers: [ObjectIdentifier: any ActivationObserver] = [:]
        for layer in context.layers { observers[ObjectIdentifier(layer)] = plan.method.makeObserver() }
        context.mode = .fp32
        context.inputObserver = { layer, values, _ in observers[ObjectIdentifier(layer)]!.observe(values) }
        defer { context.inputObserver = nil }
        for (index, image) in images.enumerated() {
            _ = try model(image)
            progress("activation statistics", index + 1, images.count)
        }
        return observers
    }

    /// The INT8 outputs against FP32's on the same images.
    func outputComparison(_ images: [Tensor], progress: Progress) throws -> OutputComparison {
        var comparison = OutputComparison()
        for (index, image) in images.enumerated() {
            context.mode = .fp32
            let reference = try model(image)
            let fp32 = (reference.logits.toArray(), reference.boxes.toArray(), model.selectedTokens)
            context.mode = .int8
            let quantized = try model(image)
            comparison.add(reference: fp32, quantized: (quantized.logits.toArray(), quantized.boxes.toArray(), model.selectedTokens),
                           classes: model.config.numLabels)
            progress("output SQNR", index + 1, images.count)
        }
        return comparison
    }
}

/// SQNR of a quantized model's raw outputs against FP32's. Query slots are matched by the encoder
/// token that seeded them: a quantized model may select a slightly different top-k, and the
/// decoder is permutation-equivariant, so slot-by-slot comparison would measure the reordering.
struct OutputComparison {
    var logits = SignalNoise()
    var boxes = SignalNoise()
    private var matched = 0
    private var total = 0

    var overlap: Double { total == 0 ? 0 : Double(matched) / Double(total) }

    typealias Outputs = (logits: [Float], boxes: [Float], tokens: [Int])

    mutating func add(reference: Outputs, quantized: Outputs, classes: Int) {
        var slotOfToken: [Int: Int] = [:]
        for (slot, token) in quantized.tokens.enumerated() { slotOfToken[token] = slot }
        total += reference.tokens.count
        for (slot, token) in reference.tokens.enumerated() {
            guard let other = slotOfToken[token] else { continue }
            matched += 1
            logits.add(reference: reference.logits[slot * classes..<(slot + 1) * classes],
                       quantized: quantized.logits[other * classes..<(other + 1) * classes])
            boxes.add(reference: reference.boxes[slot * 4..<(slot + 1) * 4], quantized: quantized.boxes[other * 4..<(other + 1) * 4])
        }
    }
}

struct CalibrationError: Error, CustomStringConvertible {
    let description: String
}

/// Accumulates Σ signal² and Σ noise² for an SQNR in decibels.
struct SignalNoise {
    private(set) var signal = 0.0
    private(set) var noise = 0.0

    mutating func add(reference: ArraySlice<Float>, quantized: ArraySlice<Float>) {
        for (r, q) in zip(reference, quantized) {
            signal += Double(r) * Double(r)
            noise += Double(r - q) * Double(r - q)
        }
    }

    var decibels: Double { noise == 0 ? .infinity : 10 * log10(signal / noise) }
}

/// QRT-DETR's two-stage reconstruction-aware calibration, alternated for `plan.rounds` rounds:
/// stage 1 re-rounds weights layer by layer (Hessian-based, inputs from the already-quantized
/// network); stage 2 refines activation clipping ranges around the EMA-MSE ones against FP32.
struct TwoStageReconstruction {
    let model: RTDetrModel
    let plan: QuantizationPlan
    /// Calibration images whose layer inputs stage 2 caches (full maps: memory bounds the count).
    static let rangeSearchImages = 4

    private var context: QuantizationContext { model.quantizationContext }

    func run(images: [Tensor], progress: Calibrator.Progress) throws -> [Calibrator.StageReport] {
        var reports: [Calibrator.StageReport] = []
        for round in 1...max(1, plan.rounds) {
            reports.append(try refineRanges(Array(images.prefix(Self.rangeSearchImages)), round: round, progress: progress))
        }
        return reports
    }

    /// Stage 2: per-layer range search on FP32 inputs and outputs of a few images.
    private func refineRanges(_ images: [Tensor], round: Int, progress: Calibrator.Progress) throws -> Calibrator.StageReport {
        var samples: [ObjectIdentifier: ActivationRangeSearch.Samples] = [:]
        let mode = context.mode
        context.mode = .fp32
        context.inputObserver = { layer, values, shape in
            guard layer.quantization != nil else { return }
            samples[ObjectIdentifier(layer), default: .init()].inputs.append((Array(values), shape))
        }
        for image in images { _ = try model(image) }
        context.inputObserver = nil
        context.mode = mode

        let search = ActivationRangeSearch(bits: plan.bits.activations)
        let layers = context.layers.filter { $0.quantization != nil }
        var before = 0.0, after = 0.0
        for (index, layer) in layers.enumerated() {
            guard var layerSamples = samples.removeValue(forKey: ObjectIdentifier(layer)) else { continue }
            let reference = layer.makeProbe(weights: nil)
            layerSamples.references = try layerSamples.inputs.map { input in
                try input.values.withUnsafeBufferPointer {
                    try reference.run($0.baseAddress!, shape: input.shape, inputQuantization: nil)
                }
            }
            let result = try search.refine(layer, samples: layerSamples)
            before += result.before
            after += result.after
            progress("stage 2 (activations), round \(round)", index + 1, layers.count)
        }
        let count = Double(max(1, layers.count))
        return Calibrator.StageReport(name: "stage 2 (activation ranges), round \(round)",
                                      errorBefore: before / count, errorAfter: after / count)
    }
}

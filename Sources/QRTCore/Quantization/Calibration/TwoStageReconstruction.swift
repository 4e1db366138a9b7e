/// QRT-DETR's two-stage reconstruction-aware calibration, alternated for `plan.rounds` rounds:
/// stage 1 re-rounds weights layer by layer (Hessian-based, inputs from the already-quantized
/// network); stage 2 refines activation clipping ranges around the EMA-MSE ones against FP32.
struct TwoStageReconstruction {
    let model: RTDetrModel
    let plan: QuantizationPlan
    /// Calibration images whose layer inputs stage 2 caches (full maps: memory bounds the count).
    static let rangeSearchImages = 4

    private var context: QuantizationContext { model.quantizationContext }

    /// Stage 1 quantizes about this many layers per pass over the calibration images: the inputs of a
    /// group come from the quantized layers before it, at one forward pass per image and group.
    static let layersPerGroup = 12
    /// Im2col rows a convolution contributes per image to its Hessian, at most (positions are subsampled).
    static let hessianRowsPerImage = 8192

    func run(images: [Tensor], progress: Calibrator.Progress) throws -> [Calibrator.StageReport] {
        var reports: [Calibrator.StageReport] = []
        let order = try executionOrder(images[0])
        for round in 1...max(1, plan.rounds) {
            reports.append(try reconstructWeights(images, order: order, round: round, progress: progress))
            reports.append(try refineRanges(Array(images.prefix(Self.rangeSearchImages)), round: round, progress: progress))
        }
        return reports
    }

    /// Quantized layers in the order a forward pass reaches them.
    private func executionOrder(_ image: Tensor) throws -> [QuantizableLayer] {
        var seen: Set<ObjectIdentifier> = []
        var order: [QuantizableLayer] = []
        context.mode = .fp32
        context.inputObserver = { layer, _, _ in
            if layer.quantization != nil, seen.insert(ObjectIdentifier(layer)).inserted { order.append(layer) }
        }
        defer { context.inputObserver = nil }
        _ = try model(image)
        return order
    }

    /// Stage 1: GPTQ re-rounding, group by group in network order. While a group's Hessians are
    /// gathered, it and every later layer run in FP32 and the layers before it are quantized, so
    /// each layer sees the (fake-quantized) inputs the quantized network feeds it.
    private func reconstructWeights(_ images: [Tensor], order: [QuantizableLayer], round: Int,
                                    progress: Calibrator.Progress) throws -> Calibrator.StageReport {
        var before = 0.0, after = 0.0
        let groups = stride(from: 0, to: order.count, by: Self.layersPerGroup).map {
            Array(order[$0..<min($0 + Self.layersPerGroup, order.count)])
        }
        let stage = "stage 1 (weights), round \(round)"
        var done = 0
        for (groupIndex, group) in groups.enumerated() {
            let pending = order[(groupIndex * Self.layersPerGroup)...]
            let saved = pending.map { ($0, $0.quantization!) }
            for layer in pending { layer.quantization = nil }
            var accumulators: [ObjectIdentifier: HessianAccumulator] = [:]
            let inputs = Dictionary(uniqueKeysWithValues: saved.prefix(group.count).map { (ObjectIdentifier($0.0), $0.1.input) })
            var failure: Error?
            let scratch = ActivationScratch()
            context.mode = .fakeQuant
            context.inputObserver = { layer, values, shape in
                let key = ObjectIdentifier(layer)
                guard failure == nil, let input = inputs[key] else { return }
                let accumulator = accumulators[key] ?? HessianAccumulator(layer: layer, subsample: Self.subsample(layer, shape))
                accumulators[key] = accumulator
                let quantized = scratch.floats(shape: shape)
                input.fakeQuantize(values, into: quantized.buffer)
                do { try accumulator.accumulate(UnsafeBufferPointer(quantized.buffer), shape: shape) } catch { failure = error }
            }
            defer { context.inputObserver = nil }
            for image in images {
                _ = try model(image)
                if let failure { throw failure }
            }
            for (layer, quantization) in saved.dropFirst(group.count) { layer.quantization = quantization }
            for (layer, quantization) in saved.prefix(group.count) {
                guard let accumulator = accumulators[ObjectIdentifier(layer)] else {
                    layer.quantization = quantization
                    continue
                }
                let hessian = try accumulator.hessian()
                let result = layer.weights.withUnsafeBufferPointer {
                    GPTQ.quantize(weights: $0, outputChannels: layer.outputChannels, hessian: hessian,
                                  quantization: quantization.weights.quantization)
                }
                let signal = hessian.outputError(reference: layer.weights, quantized: zeroWeights(like: quantization.weights))
                if signal > 0 {
                    before += hessian.outputError(reference: layer.weights, quantized: quantization.weights) / signal
                    after += hessian.outputError(reference: layer.weights, quantized: result.weights) / signal
                }
                layer.quantization = LayerQuantization(weights: result.weights, input: quantization.input)
                done += 1
                progress(stage, done, order.count)
            }
        }
        let count = Double(max(1, order.count))
        return Calibrator.StageReport(name: "stage 1 (weight rounding), round \(round)",
                                      errorBefore: before / count, errorAfter: after / count)
    }

    /// Keeps a convolution's Hessian rows per image near `hessianRowsPerImage`.
    private static func subsample(_ layer: QuantizableLayer, _ shape: [Int]) -> Int {
        guard let conv = layer as? ConvolutionLayer, shape.count == 3 else { return 1 }
        let size = conv.outputSize(height: shape[0], width: shape[1])
        return max(1, size.height * size.width / hessianRowsPerImage)
    }

    /// All-zero levels with the same scales: tr(W·H·Wᵀ), the output energy errors are relative to.
    private func zeroWeights(like weights: QuantizedWeights) -> QuantizedWeights {
        QuantizedWeights(quantization: weights.quantization, elementsPerChannel: weights.elementsPerChannel,
                         levels: [Int8](repeating: 0, count: weights.count))
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

/// RT-DETR's hybrid encoder (transformers' `RTDetrHybridEncoder` with the input projections of
/// `RTDetrModel`): 1×1 projections of the backbone maps, AIFI self-attention on the coarsest map,
/// then a top-down FPN and bottom-up PAN of CSP-RepVGG blocks. RepVGG branches are fused at load.
final class HybridEncoder {
    /// Post-norm transformer encoder layer applied to the tokens of one map.
    private struct AIFILayer {
        let attention: SelfAttentionBlock
        let attentionNorm: LayerNormLayer
        let feedForward: FeedForwardBlock
        let finalNorm: LayerNormLayer
    }

    /// `RTDetrCSPRepLayer`: two 1×1 branches, three fused RepVGG blocks on one, summed, optional 1×1.
    private struct CSPRepLayer {
        let branch1: ConvolutionLayer
        let branch2: ConvolutionLayer
        /// The last one sums onto branch 2 (post-ops activation then sum).
        let repBlocks: [ConvolutionLayer]
        let projection: ConvolutionLayer?
    }

    private let inputProjections: [ConvolutionLayer]
    private let aifiLevels: [Int]
    private let aifi: [[AIFILayer]]
    private let lateralConvs: [ConvolutionLayer]
    private let fpnBlocks: [CSPRepLayer]
    private let downsampleConvs: [ConvolutionLayer]
    private let panBlocks: [CSPRepLayer]
    private let hiddenDim: Int
    private let temperature: Double
    private var positionCache: [Int: [Float]] = [:]

    init(config: RTDetrConfig, backboneChannels: [Int], weights: ModelWeights) throws {
        let dim = config.encoderHiddenDim
        hiddenDim = dim
        temperature = Double(config.positionalEncodingTemperature)
        guard !config.normalizeBefore else {
            throw CheckpointError(.config, file: "config.json", subject: CheckpointError.field("normalize_before"),
                                  "true is not supported")
        }
        let activation = try PostOp.activation(named: config.activationFunction, field: "activation_function")
        let bnEps = Float(config.batchNormEps)
        inputProjections = try backboneChannels.enumerated().map { level, channels in
            // transformers builds these BatchNorm2d with PyTorch's default epsilon.
            try weights.convolution("model.encoder_input_proj.\(level)", conv: "model.encoder_input_proj.\(level).0",
                                    norm: "model.encoder_input_proj.\(level).1", inChannels: channels,
                                    outChannels: dim, kernel: 1, epsilon: 1e-5)
        }
        aifiLevels = config.encodeProjLayers
        let lnEps = Float(config.layerNormEps)
        aifi = try config.encodeProjLayers.indices.map { i in
            try (0..<config.encoderLayers).map { l in
                let p = "model.encoder.aifi.\(i).layers.\(l)"
                return AIFILayer(
                    attention: try SelfAttentionBlock("\(p).self_attn", channels: dim, heads: config.encoderAttentionHeads, weights: weights),
                    attentionNorm: LayerNormLayer(parameters: try weights.layerNorm("\(p).self_attn_layer_norm", features: dim, epsilon: lnEps)),
                    feedForward: try FeedForwardBlock("\(p).mlp", channels: dim, hidden: config.encoderFfnDim,
                                                      activation: try PostOp.activation(named: config.encoderActivationFunction,
                                                                                         field: "encoder_activation_function"),
                                                      weights: weights),
                    finalNorm: LayerNormLayer(parameters: try weights.layerNorm("\(p).final_layer_norm", features: dim, epsilon: lnEps)))
            }
        }
        func convNorm(_ prefix: String, _ cin: Int, _ cout: Int, kernel: Int, stride: Int = 1) throws -> ConvolutionLayer {
            try weights.convolution(prefix, conv: "\(prefix).conv", norm: "\(prefix).norm", inChannels: cin,
                                    outChannels: cout, kernel: kernel, stride: stride, epsilon: bnEps, postOps: [activation])
        }
        func csp(_ prefix: String) throws -> CSPRepLayer {
            let hidden = Int(Double(dim) * config.hiddenExpansion)
            let blocks = try (0..<3).map { b -> ConvolutionLayer in
                let p = "\(prefix).bottlenecks.\(b)"
                return try weights.convolution(p, inChannels: hidden, outChannels: hidden, kernel: 3,
                                               postOps: b == 2 ? [activation, .sum] : [activation]) {
                    let three = try weights.foldedConvolution(conv: "\(p).conv1.conv", norm: "\(p).conv1.norm",
                                                              outChannels: hidden, inChannels: hidden, kernel: 3, epsilon: bnEps)
                    let one = try weights.foldedConvolution(conv: "\(p).conv2.conv", norm: "\(p).conv2.norm",
                                                            outChannels: hidden, inChannels: hidden, kernel: 1, epsilon: bnEps)
                    return (RepVGG.fuse(threeByThree: three.weights, oneByOne: one.weights, channelsOut: hidden, channelsIn: hidden),
                            zip(three.bias, one.bias).map { $0 + $1 })
                }
            }
            return CSPRepLayer(
                branch1: try convNorm("\(prefix).conv1", 2 * dim, hidden, kernel: 1),
                branch2: try convNorm("\(prefix).conv2", 2 * dim, hidden, kernel: 1),
                repBlocks: blocks,
                projection: hidden != dim ? try convNorm("\(prefix).conv3", hidden, dim, kernel: 1) : nil)
        }
        let stages = backboneChannels.count - 1
        lateralConvs = try (0..<stages).map { try convNorm("model.encoder.lateral_convs.\($0)", dim, dim, kernel: 1) }
        fpnBlocks = try (0..<stages).map { try csp("model.encoder.fpn_blocks.\($0)") }
        downsampleConvs = try (0..<stages).map { try convNorm("model.encoder.downsample_convs.\($0)", dim, dim, kernel: 3, stride: 2) }
        panBlocks = try (0..<stages).map { try csp("model.encoder.pan_blocks.\($0)") }
    }

    /// Returns the encoder's output maps, finest first, each [H, W, encoder_hidden_dim].
    func callAsFunction(_ features: [Tensor], arena: ActivationArena, taps: IntermediateTaps?) throws -> [Tensor] {
        var maps = try features.enumerated().map { level, feature -> Tensor in
            let out = arena.tensor("encoder.proj.\(level)", [feature.shape[0], feature.shape[1], hiddenDim])
            try inputProjections[level].run(feature, into: out)
            taps?.record("encoder_input_proj.\(level)", out)
            return out
        }
        for (i, level) in aifiLevels.enumerated() where !aifi[i].isEmpty {
            try runAIFI(aifi[i], on: maps[level], arena: arena)
        }

        let stages = lateralConvs.count
        var fpn = [maps[stages]]
        for idx in 0..<stages {
            let top = fpn[fpn.count - 1]
            let lateral = arena.tensor("encoder.lateral.\(idx)", [top.shape[0], top.shape[1], hiddenDim])
            try lateralConvs[idx].run(top, into: lateral)
            fpn[fpn.count - 1] = lateral
            let backboneMap = maps[stages - idx - 1]
            let fused = arena.tensor("encoder.fpn_fused.\(idx)", [backboneMap.shape[0], backboneMap.shape[1], 2 * hiddenDim])
            let upsampled = arena.tensor("encoder.upsampled.\(idx)", NHWC.upsampleNearest2xShape(lateral.shape))
            NHWC.upsampleNearest2x(lateral, into: upsampled)
            NHWC.concatChannels(upsampled, backboneMap, into: fused)
            fpn.append(try run(fpnBlocks[idx], fused, slot: "encoder.fpn.\(idx)", arena: arena))
        }
        fpn.reverse()
        var pan = [fpn[0]]
        for idx in 0..<stages {
            let top = pan[pan.count - 1]
            let size = downsampleConvs[idx].outputSize(height: top.shape[0], width: top.shape[1])
            let down = arena.tensor("encoder.down.\(idx)", [size.height, size.width, hiddenDim])
            try downsampleConvs[idx].run(top, into: down)
            let fused = arena.tensor("encoder.pan_fused.\(idx)", [size.height, size.width, 2 * hiddenDim])
            NHWC.concatChannels(down, fpn[idx + 1], into: fused)
            pan.append(try run(panBlocks[idx], fused, slot: "encoder.pan.\(idx)", arena: arena))
        }
        maps = pan
        for (level, map) in maps.enumerated() { taps?.record("encoder_output.\(level)", map) }
        return maps
    }

    private func runAIFI(_ layers: [AIFILayer], on map: Tensor, arena: ActivationArena) throws {
        let (height, width) = (map.shape[0], map.shape[1])
        let tokens = height * width
        let key = height << 32 | width
        if positionCache[key] == nil {
            positionCache[key] = PositionEmbedding.sinCos2D(width: width, height: height, embedDim: hiddenDim,
                                                            temperature: temperature)
        }
        let position = positionCache[key]!
        // NHWC rows are already the token sequence: the layers work on the map in place.
        let hidden = map.data
        let snapshot = arena.tensor("encoder.aifi.input", [tokens, hiddenDim])
        for layer in layers {
            snapshot.data.update(from: hidden, count: tokens * hiddenDim)
            try position.withUnsafeBufferPointer {
                try layer.attention.run(hidden: snapshot.data, position: $0.baseAddress!, tokens: tokens,
                                        addingInto: hidden, arena: arena)
            }
            layer.attentionNorm(hidden, rows: tokens)
            snapshot.data.update(from: hidden, count: tokens * hiddenDim)
            try layer.feedForward.run(snapshot.data, tokens: tokens, addingInto: hidden, arena: arena)
            layer.finalNorm(hidden, rows: tokens)
        }
    }

    private func run(_ block: CSPRepLayer, _ input: Tensor, slot: String, arena: ActivationArena) throws -> Tensor {
        let (h, w) = (input.shape[0], input.shape[1])
        let hidden = block.branch1.outChannels
        var a = arena.tensor("\(slot).a", [h, w, hidden])
        var b = arena.tensor("\(slot).b", [h, w, hidden])
        let sum = arena.tensor("\(slot).sum", [h, w, hidden])
        try block.branch2.run(input, into: sum)
        try block.branch1.run(input, into: a)
        for rep in block.repBlocks.dropLast() {
            try rep.run(a, into: b)
            swap(&a, &b)
        }
        try block.repBlocks.last!.run(a, into: sum)
        guard let projection = block.projection else { return sum }
        let out = arena.tensor("\(slot).out", [h, w, projection.outChannels])
        try projection.run(sum, into: out)
        return out
    }
}

enum RepVGG {
    /// Adds a 1×1 kernel into the centre of a 3×3 kernel: conv3(x) + conv1(x) as one convolution.
    static func fuse(threeByThree: [Float], oneByOne: [Float], channelsOut: Int, channelsIn: Int) -> [Float] {
        var fused = threeByThree
        for o in 0..<channelsOut {
            for i in 0..<channelsIn {
                fused[(o * channelsIn + i) * 9 + 4] += oneByOne[o * channelsIn + i]
            }
        }
        return fused
    }
}

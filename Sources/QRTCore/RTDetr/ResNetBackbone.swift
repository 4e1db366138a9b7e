/// The ResNet-vd backbone of RT-DETR (transformers' `RTDetrResNetBackbone`): a deep 3-conv stem,
/// max pool, and four stages of basic or bottleneck blocks whose downsampling shortcuts average-pool
/// before their 1×1 projection (the "vd" trick). Batch norms are folded into the convolutions.
final class ResNetBackbone {
    private struct Block {
        let name: String
        let main: [ConvolutionLayer]
        /// nil: identity shortcut.
        let shortcut: ConvolutionLayer?
        let averagePoolShortcut: Bool
    }

    private let stem: [ConvolutionLayer]
    private let stages: [[Block]]
    /// Indices into `stages` whose outputs are returned (transformers' out_indices minus the stem).
    let outputStages: [Int]
    let outputChannels: [Int]

    init(config: RTDetrConfig.Backbone, weights: ModelWeights) throws {
        // transformers freezes the backbone's batch norms with a fixed epsilon of 1e-5.
        let eps: Float = 1e-5
        let prefix = "model.backbone.model"
        let activation = try PostOp.activation(named: config.hiddenAct, field: "backbone_config.hidden_act")
        let stemWidths = [config.numChannels, config.embeddingSize / 2, config.embeddingSize / 2, config.embeddingSize]
        stem = try (0..<3).map { i in
            try weights.convolution("\(prefix).embedder.embedder.\(i)", conv: "\(prefix).embedder.embedder.\(i).convolution",
                                    norm: "\(prefix).embedder.embedder.\(i).normalization",
                                    inChannels: stemWidths[i], outChannels: stemWidths[i + 1], kernel: 3,
                                    stride: i == 0 ? 2 : 1, epsilon: eps, postOps: [activation])
        }

        var stages: [[Block]] = []
        var inChannels = config.embeddingSize
        for (stageIndex, (outChannels, depth)) in zip(config.hiddenSizes, config.depths).enumerated() {
            let stageStride = stageIndex == 0 && !config.downsampleInFirstStage ? 1 : 2
            var blocks: [Block] = []
            for layerIndex in 0..<depth {
                let name = "\(prefix).encoder.stages.\(stageIndex).layers.\(layerIndex)"
                let blockIn = layerIndex == 0 ? inChannels : outChannels
                let stride = layerIndex == 0 ? stageStride : 1
                func conv(_ index: Int, _ cin: Int, _ cout: Int, kernel: Int, stride: Int, post: [PostOp]) throws -> ConvolutionLayer {
                    try weights.convolution("\(name).layer.\(index)", conv: "\(name).layer.\(index).convolution",
                                            norm: "\(name).layer.\(index).normalization", inChannels: cin,
                                            outChannels: cout, kernel: kernel, stride: stride, epsilon: eps, postOps: post)
                }
                func projection(_ key: String) throws -> ConvolutionLayer {
                    try weights.convolution("\(name).shortcut", conv: "\(key).convolution", norm: "\(key).normalization",
                                            inChannels: blockIn, outChannels: outChannels, kernel: 1,
                                            stride: 1, epsilon: eps)
                }
                let main: [ConvolutionLayer]
                var shortcut: ConvolutionLayer?
                var pooled = false
                if config.layerType == .basic {
                    main = [try conv(0, blockIn, outChannels, kernel: 3, stride: stride, post: [activation]),
                            try conv(1, outChannels, outChannels, kernel: 3, stride: 1, post: [.sum, activation])]
                    if layerIndex == 0 {
                        if blockIn != outChannels {
                            pooled = true
                            shortcut = try projection("\(name).shortcut.1")
                        } else {
                            shortcut = try weights.convolution(
                                "\(name).shortcut", conv: "\(name).shortcut.convolution",
                                norm: "\(name).shortcut.normalization", inChannels: blockIn, outChannels: outChannels,
                                kernel: 1, stride: stride, epsilon: eps)
                        }
                    }
                } else {
                    let reduced = outChannels / 4
                    let inBottleneck = config.downsampleInBottleneck
                    main = [try conv(0, blockIn, reduced, kernel: 1, stride: inBottleneck ? stride : 1, post: [activation]),
                            try conv(1, reduced, reduced, kernel: 3, stride: inBottleneck ? 1 : stride, post: [activation]),
                            try conv(2, reduced, outChannels, kernel: 1, stride: 1, post: [.sum, activation])]
                    let project = blockIn != outChannels || stride != 1
                    if stride == 2 {
                        pooled = true
                        shortcut = project ? try projection("\(name).shortcut.1") : nil
                    } else if project {
                        shortcut = try projection("\(name).shortcut")
                    }
                }
                blocks.append(Block(name: name, main: main, shortcut: shortcut, averagePoolShortcut: pooled))
            }
            stages.append(blocks)
            inChannels = outChannels
        }
        self.stages = stages
        outputStages = config.outIndices.map { $0 - 1 }
        outputChannels = outputStages.map { config.hiddenSizes[$0] }
    }

    /// Runs the backbone on an NHWC image and returns the requested stage outputs.
    func callAsFunction(_ image: Tensor, arena: ActivationArena) throws -> [Tensor] {
        var x = image
        for (i, conv) in stem.enumerated() {
            let size = conv.outputSize(height: x.shape[0], width: x.shape[1])
            let out = arena.tensor("backbone.stem.\(i)", [size.height, size.width, conv.outChannels])
            try conv.run(x, into: out)
            x = out
        }
        let pooledStem = arena.tensor("backbone.stem.pool", NHWC.maxPool3x3Stride2Shape(x.shape))
        NHWC.maxPool3x3Stride2(x, into: pooledStem)
        x = pooledStem

        var outputs: [Tensor] = []
        for (stageIndex, blocks) in stages.enumerated() {
            for (blockIndex, block) in blocks.enumerated() {
                x = try run(block, x, slot: "backbone.\(stageIndex).\(blockIndex)", arena: arena)
            }
            if outputStages.contains(stageIndex) { outputs.append(x) }
        }
        return outputs
    }

    private func run(_ block: Block, _ input: Tensor, slot: String, arena: ActivationArena) throws -> Tensor {
        var hidden = input
        for (i, conv) in block.main.dropLast().enumerated() {
            let size = conv.outputSize(height: hidden.shape[0], width: hidden.shape[1])
            let out = arena.tensor("\(slot).main.\(i)", [size.height, size.width, conv.outChannels])
            try conv.run(hidden, into: out)
            hidden = out
        }
        let last = block.main.last!
        let size = last.outputSize(height: hidden.shape[0], width: hidden.shape[1])
        // The block output first holds the shortcut; the last convolution adds onto it (sum post-op).
        let output = arena.tensor("\(slot).out", [size.height, size.width, last.outChannels])
        var shortcutInput = input
        if block.averagePoolShortcut {
            let pooled = arena.tensor("\(slot).pool", NHWC.averagePool2x2CeilShape(input.shape))
            NHWC.averagePool2x2Ceil(input, into: pooled)
            shortcutInput = pooled
        }
        if let shortcut = block.shortcut {
            try shortcut.run(shortcutInput, into: output)
        } else {
            output.copy(from: shortcutInput)
        }
        try last.run(hidden, into: output)
        return output
    }
}

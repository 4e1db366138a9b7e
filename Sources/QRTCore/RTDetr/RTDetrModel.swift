import Foundation

/// Copies of named intermediate tensors, for tests and debugging (`backbone.0`, `encoder_output.2`, …).
public final class IntermediateTaps: @unchecked Sendable {
    public private(set) var tensors: [String: (shape: [Int], values: [Float])] = [:]

    public init() {}

    func record(_ name: String, _ tensor: Tensor) {
        tensors[name] = (tensor.shape, tensor.toArray())
    }

    func record(_ name: String, shape: [Int], values: [Float]) {
        tensors[name] = (shape, values)
    }
}

/// Wall time per model stage, accumulated over runs (`qrt-detr bench --profile`).
public final class StageClock: @unchecked Sendable {
    public private(set) var totals: [(stage: String, seconds: Double)] = []
    private var last = DispatchTime.now().uptimeNanoseconds

    public init() {}

    func start() { last = DispatchTime.now().uptimeNanoseconds }

    func mark(_ stage: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        let seconds = Double(now - last) / 1e9
        last = now
        if let index = totals.firstIndex(where: { $0.stage == stage }) {
            totals[index].seconds += seconds
        } else {
            totals.append((stage, seconds))
        }
    }
}

/// RT-DETR as transformers' `RTDetrForObjectDetection`, FP32, batch 1, NHWC.
public final class RTDetrModel {
    public let config: RTDetrConfig
    private let backbone: ResNetBackbone
    private let encoder: HybridEncoder
    private let decoderInputProjections: [ConvolutionLayer]
    private let encoderOutput: LinearLayer
    private let encoderOutputNorm: LayerNormLayer
    private let encoderScoreHead: LinearLayer
    private let encoderBoxHead: PredictionHead
    private let decoder: Decoder
    private let arena = ActivationArena()
    /// Execution mode and quant points of every convolution and linear layer.
    let quantizationContext: QuantizationContext
    /// LayerNorm parameters by checkpoint name, for writing artifacts.
    let auxiliaryTensors: [(name: String, values: [Float])]
    private var anchorCache: [[SpatialShape]: Anchors.Table] = [:]
    /// Set to capture intermediate tensors on the next runs.
    public var taps: IntermediateTaps?
    /// The encoder tokens that seeded each query slot in the latest run (slot order).
    public private(set) var selectedTokens: [Int] = []
    /// Set to accumulate per-stage wall time.
    public var clock: StageClock?

    init(config: RTDetrConfig, weights: ModelWeights) throws {
        self.config = config
        quantizationContext = weights.context
        let d = config.dModel
        backbone = try ResNetBackbone(config: config.backbone, weights: weights)
        encoder = try HybridEncoder(config: config, backboneChannels: backbone.outputChannels, weights: weights)
        let bnEps = Float(config.batchNormEps)
        var projections: [ConvolutionLayer] = []
        var inChannels = config.decoderInChannels.last ?? d
        for level in 0..<config.numFeatureLevels {
            let p = "model.decoder_input_proj.\(level)"
            if level < config.decoderInChannels.count {
                inChannels = config.decoderInChannels[level]
                projections.append(try weights.convolution(p, conv: "\(p).0", norm: "\(p).1", inChannels: inChannels,
                                                           outChannels: d, kernel: 1, epsilon: bnEps))
            } else {
                projections.append(try weights.convolution(p, conv: "\(p).0", norm: "\(p).1", inChannels: inChannels,
                                                           outChannels: d, kernel: 3, stride: 2, epsilon: bnEps))
                inChannels = d
            }
        }
        decoderInputProjections = projections
        encoderOutput = try weights.linear("model.enc_output.0", inFeatures: d, outFeatures: d)
        encoderOutputNorm = LayerNormLayer(parameters: try weights.layerNorm("model.enc_output.1", features: d,
                                                                             epsilon: Float(config.layerNormEps)))
        encoderScoreHead = try weights.linear("model.enc_score_head", inFeatures: d, outFeatures: config.numLabels)
        encoderBoxHead = try PredictionHead("model.enc_bbox_head", inFeatures: d, hidden: d, outFeatures: 4, layers: 3,
                                            weights: weights)
        decoder = try Decoder(config: config, weights: weights)
        auxiliaryTensors = weights.auxiliary
        if config.learnInitialQuery {
            throw CheckpointError(.config, file: "config.json", subject: CheckpointError.field("learn_initial_query"),
                                  "true is not supported")
        }
    }

    /// Loads a Hugging Face model directory, or a `.qrt` artifact (which then runs in INT8).
    public static func load(path: URL) throws -> RTDetrModel {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            return try QRTArtifact.load(path)
        }
        return try load(directory: path)
    }

    /// Loads `config.json` and `model.safetensors` from a Hugging Face model directory.
    public static func load(directory: URL) throws -> RTDetrModel {
        let config = try RTDetrConfig.load(from: directory.appendingPathComponent("config.json"))
        let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("model.safetensors"))
        let weights = ModelWeights(file)
        let model = try RTDetrModel(config: config, weights: weights)
        let unused = weights.unusedTensors()
        if let first = unused.first {
            throw CheckpointError(.tensor, file: file.fileName, subject: CheckpointError.tensor(first),
                                  "not used by this config.json\(unused.count > 1 ? " (and \(unused.count - 1) more)" : "")")
        }
        return model
    }

    /// Runs the detector on an NHWC [H, W, 3] image with values in [0, 1].
    /// - Returns: logits [queries, numLabels] and normalized cxcywh boxes [queries, 4]; both stay
    ///   owned by the model and are overwritten by the next call.
    public func callAsFunction(_ image: Tensor) throws -> (logits: Tensor, boxes: Tensor) {
        let d = config.dModel
        clock?.start()
        let features = try backbone(image, arena: arena)
        for (i, f) in features.enumerated() { taps?.record("backbone.\(i)", f) }
        clock?.mark("backbone")
        let maps = try encoder(features, arena: arena, taps: taps)
        clock?.mark("hybrid encoder")

        // Decoder input projections write straight into the flattened [S, d] memory.
        var shapes: [SpatialShape] = []
        // Levels beyond the encoder's all project its coarsest map, as transformers does.
        let inputs = decoderInputProjections.indices.map { $0 < maps.count ? maps[$0] : maps.last! }
        for (input, projection) in zip(inputs, decoderInputProjections) {
            let size = projection.outputSize(height: input.shape[0], width: input.shape[1])
            shapes.append(SpatialShape(height: size.height, width: size.width))
        }
        let tokens = shapes.reduce(0) { $0 + $1.count }
        let memory = arena.tensor("memory", [tokens, d])
        var offset = 0
        for (level, projection) in decoderInputProjections.enumerated() {
            try projection.run(inputs[level], into: memory.data + offset * d)
            offset += shapes[level].count
        }

        let table = anchorTable(shapes)
        let (anchors, valid) = (table.logits, table.valid)
        let masked = arena.tensor("memory.masked", [tokens, d])
        for t in 0..<tokens {
            if valid[t] {
                (masked.data + t * d).update(from: memory.data + t * d, count: d)
            } else {
                (masked.data + t * d).update(repeating: 0, count: d)
            }
        }
        let outputMemory = arena.tensor("memory.output", [tokens, d])
        try encoderOutput.run(masked, into: outputMemory)
        encoderOutputNorm(outputMemory.data, rows: tokens)
        let classes = config.numLabels
        let scores = arena.tensor("encoder.scores", [tokens, classes])
        try encoderScoreHead.run(outputMemory, into: scores)
        let best = arena.tensor("encoder.best", [tokens])
        for t in 0..<tokens {
            var m = -Float.infinity
            for c in 0..<classes { m = max(m, scores.data[t * classes + c]) }
            best.data[t] = m
        }
        let queries = config.numQueries
        var selected = [Int](repeating: 0, count: queries)
        var selectedScores = [Float](repeating: 0, count: queries)
        TopK.largest(best.data, count: tokens, k: queries, indices: &selected, topValues: &selectedScores)
        selectedTokens = selected
        taps?.record("enc_topk_indices", shape: [queries], values: selected.map { Float($0) })

        // Only the selected tokens need the box head: it works row by row.
        let target = arena.tensor("decoder.target", [queries, d])
        for (q, t) in selected.enumerated() { (target.data + q * d).update(from: outputMemory.data + t * d, count: d) }
        let referenceLogits = arena.tensor("decoder.reference_logits", [queries, 4])
        try encoderBoxHead.run(target.data, rows: queries, into: referenceLogits.data, arena: arena)
        for (q, t) in selected.enumerated() {
            for j in 0..<4 { referenceLogits.data[q * 4 + j] += anchors[t * 4 + j] }
        }

        clock?.mark("query selection")
        let logits = arena.tensor("logits", [queries, classes])
        let boxes = arena.tensor("pred_boxes", [queries, 4])
        try decoder.run(target: target, referenceLogits: referenceLogits.data, memory: memory, shapes: shapes,
                        logits: logits, boxes: boxes, arena: arena, taps: taps)
        clock?.mark("decoder")
        taps?.record("logits", logits)
        taps?.record("pred_boxes", boxes)
        return (logits, boxes)
    }

    private func anchorTable(_ shapes: [SpatialShape]) -> Anchors.Table {
        if let cached = anchorCache[shapes] { return cached }
        let table = Anchors.generate(levels: shapes, gridSize: 0.05)
        anchorCache[shapes] = table
        return table
    }

    /// How the convolution and linear layers execute; `.int8` needs a calibrated or loaded quantization.
    public var executionMode: ExecutionMode {
        get { quantizationContext.mode }
        set { quantizationContext.mode = newValue }
    }

    /// Number of layers that carry a quantization (0 for an FP32 checkpoint).
    public var quantizedLayerCount: Int { quantizationContext.layers.filter { $0.quantization != nil }.count }

    /// Bytes held by activation buffers (they are reused across frames).
    public var activationBytes: Int { arena.totalBytes }
}

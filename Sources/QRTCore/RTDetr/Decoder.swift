/// RT-DETR's decoder (transformers' `RTDetrDecoder` with the detection heads of
/// `RTDetrForObjectDetection`): self-attention among queries, multi-scale deformable
/// cross-attention into the flattened encoder maps, and iterative box refinement.
final class Decoder {
    private struct Layer {
        let selfAttention: SelfAttentionBlock
        let selfAttentionNorm: LayerNormLayer
        let valueProjection: LinearLayer
        let samplingOffsets: LinearLayer
        let attentionWeights: LinearLayer
        let outputProjection: LinearLayer
        let crossAttentionNorm: LayerNormLayer
        let feedForward: FeedForwardBlock
        let finalNorm: LayerNormLayer
        let boxHead: PredictionHead
    }

    private let layers: [Layer]
    private let queryPositionHead: PredictionHead
    private let classHead: LinearLayer
    let dModel: Int
    let heads: Int
    let levels: Int
    let points: Int
    let numLabels: Int

    init(config: RTDetrConfig, weights: ModelWeights) throws {
        let d = config.dModel
        dModel = d
        heads = config.decoderAttentionHeads
        levels = config.numFeatureLevels
        points = config.decoderNPoints
        numLabels = config.numLabels
        let lnEps = Float(config.layerNormEps)
        let samples = heads * levels * points
        layers = try (0..<config.decoderLayers).map { l in
            let p = "model.decoder.layers.\(l)"
            return Layer(
                selfAttention: try SelfAttentionBlock("\(p).self_attn", channels: d, heads: config.decoderAttentionHeads, weights: weights),
                selfAttentionNorm: LayerNormLayer(parameters: try weights.layerNorm("\(p).self_attn_layer_norm", features: d, epsilon: lnEps)),
                valueProjection: try weights.linear("\(p).encoder_attn.value_proj", inFeatures: d, outFeatures: d),
                samplingOffsets: try weights.linear("\(p).encoder_attn.sampling_offsets", inFeatures: d, outFeatures: samples * 2),
                attentionWeights: try weights.linear("\(p).encoder_attn.attention_weights", inFeatures: d, outFeatures: samples),
                outputProjection: try weights.linear("\(p).encoder_attn.output_proj", inFeatures: d, outFeatures: d, postOps: [.sum]),
                crossAttentionNorm: LayerNormLayer(parameters: try weights.layerNorm("\(p).encoder_attn_layer_norm", features: d, epsilon: lnEps)),
                feedForward: try FeedForwardBlock("\(p).mlp", channels: d, hidden: config.decoderFfnDim,
                                                  activation: try PostOp.activation(named: config.decoderActivationFunction,
                                                                                     field: "decoder_activation_function"),
                                                  weights: weights),
                finalNorm: LayerNormLayer(parameters: try weights.layerNorm("\(p).final_layer_norm", features: d, epsilon: lnEps)),
                boxHead: try PredictionHead("model.decoder.bbox_embed.\(l)", inFeatures: d, hidden: d, outFeatures: 4,
                                            layers: 3, weights: weights))
        }
        queryPositionHead = try PredictionHead("model.decoder.query_pos_head", inFeatures: 4, hidden: 2 * d,
                                               outFeatures: d, layers: 2, weights: weights)
        // Only the last layer's class head feeds inference; the others serve training's auxiliary losses.
        weights.acknowledge((0..<(config.decoderLayers - 1)).flatMap {
            ["model.decoder.class_embed.\($0).weight", "model.decoder.class_embed.\($0).bias"]
        })
        classHead = try weights.linear("model.decoder.class_embed.\(config.decoderLayers - 1)", inFeatures: d,
                                       outFeatures: config.numLabels)
    }

    /// - Parameters:
    ///   - target: [queries, d] initial query features (overwritten: the decoder's hidden state).
    ///   - referenceLogits: [queries, 4] unsigmoided initial boxes.
    ///   - memory: [S, d] flattened decoder-input maps; `shapes` their (height, width), finest first.
    ///   - logits: [queries, numLabels] output; `boxes`: [queries, 4] normalized cxcywh output.
    func run(target: Tensor, referenceLogits: UnsafePointer<Float>, memory: Tensor, shapes: [SpatialShape],
             logits: Tensor, boxes: Tensor, arena: ActivationArena, taps: IntermediateTaps? = nil) throws {
        let queries = target.shape[0]
        let d = dModel
        let tokens = memory.shape[0]
        let hidden = target.data
        let reference = boxes.data
        reference.update(from: referenceLogits, count: queries * 4)
        Activation.sigmoid(reference, count: queries * 4)

        let position = arena.tensor("decoder.query_pos", [queries, d])
        let snapshot = arena.tensor("decoder.snapshot", [queries, d])
        let offsets = arena.tensor("decoder.offsets", [queries, heads * levels * points * 2])
        let weightsBuffer = arena.tensor("decoder.weights", [queries, heads * levels * points])
        let locations = arena.tensor("decoder.locations", [queries, heads * levels * points * 2])
        let sampled = arena.tensor("decoder.sampled", [queries, d])
        let boxDelta = arena.tensor("decoder.box_delta", [queries, 4])
        let previous = arena.tensor("decoder.previous_box", [queries, 4])

        // The value projections depend only on the encoder memory: the big, parallel part of the
        // decoder, run with the caller's thread team before the sequential per-query work.
        let values = try layers.enumerated().map { index, layer in
            let value = arena.tensor("decoder.value.\(index)", [tokens, d])
            try layer.valueProjection.run(memory.data, rows: tokens, into: value.data)
            return value
        }
        let threads = DNNL.threads
        // The rest is a chain of small matmuls on `queries` rows: one thread avoids an OpenMP
        // fork/join per op, which costs more than it saves there, and far more when another
        // process holds a core.
        DNNL.setThreads(1)
        defer { DNNL.setThreads(threads) }
        for (index, (layer, value)) in zip(layers, values).enumerated() {
            try queryPositionHead.run(reference, rows: queries, into: position.data, arena: arena)

            snapshot.data.update(from: hidden, count: queries * d)
            try layer.selfAttention.run(hidden: snapshot.data, position: position.data, tokens: queries,
                                        addingInto: hidden, arena: arena)
            layer.selfAttentionNorm(hidden, rows: queries)

            // Deformable cross-attention: queries (with position) predict where to sample the maps.
            Elementwise.add(hidden, position.data, into: position.data, count: queries * d)
            try layer.samplingOffsets.run(position.data, rows: queries, into: offsets.data)
            try layer.attentionWeights.run(position.data, rows: queries, into: weightsBuffer.data)
            Softmax.rows(weightsBuffer.data, rows: queries * heads, columns: levels * points)
            samplingLocations(reference: reference, offsets: offsets.data, queries: queries, into: locations.data)
            DeformableAttention.sample(
                value: value.data, levels: shapes, heads: heads, headDim: d / heads, locations: locations.data,
                weights: weightsBuffer.data, queries: queries, points: points, into: sampled.data)
            try layer.outputProjection.run(sampled.data, rows: queries, into: hidden)
            layer.crossAttentionNorm(hidden, rows: queries)

            snapshot.data.update(from: hidden, count: queries * d)
            try layer.feedForward.run(snapshot.data, tokens: queries, addingInto: hidden, arena: arena)
            layer.finalNorm(hidden, rows: queries)
            taps?.record("decoder.hidden.\(index)", shape: [queries, d], values: Array(UnsafeBufferPointer(start: hidden, count: queries * d)))

            // Iterative refinement: new box = sigmoid(delta + inverse_sigmoid(previous box)).
            try layer.boxHead.run(hidden, rows: queries, into: boxDelta.data, arena: arena)
            previous.data.update(from: reference, count: queries * 4)
            Activation.inverseSigmoid(previous.data, count: queries * 4)
            Elementwise.add(boxDelta.data, previous.data, into: reference, count: queries * 4)
            Activation.sigmoid(reference, count: queries * 4)
        }
        logits.reshape([queries, numLabels])
        try classHead.run(hidden, rows: queries, into: logits.data)
    }

    /// location = reference centre + offset / points · reference size · ½ (4-coordinate references).
    private func samplingLocations(reference: UnsafePointer<Float>, offsets: UnsafePointer<Float>, queries: Int,
                                   into locations: UnsafeMutablePointer<Float>) {
        let perQuery = heads * levels * points
        for q in 0..<queries {
            let (cx, cy, w, h) = (reference[q * 4], reference[q * 4 + 1], reference[q * 4 + 2], reference[q * 4 + 3])
            let p = Float(points)
            for s in 0..<perQuery {
                let index = (q * perQuery + s) * 2
                // Same operation order as the reference, so rounding agrees.
                locations[index] = cx + offsets[index] / p * w * 0.5
                locations[index + 1] = cy + offsets[index + 1] / p * h * 0.5
            }
        }
    }
}

/// Multi-head self-attention as transformers' `RTDetrSelfAttention`: queries and keys see
/// hidden + position embedding, values see hidden alone. The output projection adds onto the
/// residual already in the output buffer.
final class SelfAttentionBlock {
    let channels: Int
    private let query: LinearLayer, key: LinearLayer, value: LinearLayer, output: LinearLayer
    private let attention: AttentionFP32
    private let slot: String

    init(_ prefix: String, channels: Int, heads: Int, weights: ModelWeights) throws {
        self.channels = channels
        slot = prefix
        let scale = 1 / Float(channels / heads).squareRoot()
        query = try weights.linear("\(prefix).q_proj", inFeatures: channels, outFeatures: channels, scale: scale)
        key = try weights.linear("\(prefix).k_proj", inFeatures: channels, outFeatures: channels)
        value = try weights.linear("\(prefix).v_proj", inFeatures: channels, outFeatures: channels)
        output = try weights.linear("\(prefix).o_proj", inFeatures: channels, outFeatures: channels, postOps: [.sum])
        attention = AttentionFP32(heads: heads, channels: channels)
    }

    /// residual += o_proj(attention(hidden, hidden + position)).
    func run(hidden: UnsafePointer<Float>, position: UnsafePointer<Float>, tokens: Int,
             addingInto residual: UnsafeMutablePointer<Float>, arena: ActivationArena) throws {
        let n = tokens * channels
        let withPosition = arena.tensor("\(slot).qk_input", [tokens, channels])
        Elementwise.add(hidden, position, into: withPosition.data, count: n)
        let q = arena.tensor("\(slot).q", [tokens, channels])
        let k = arena.tensor("\(slot).k", [tokens, channels])
        let v = arena.tensor("\(slot).v", [tokens, channels])
        try query.run(withPosition.data, rows: tokens, into: q.data)
        try key.run(withPosition.data, rows: tokens, into: k.data)
        try value.run(hidden, rows: tokens, into: v.data)
        let scores = arena.tensor("\(slot).scores", [attention.heads, tokens, tokens])
        let mixed = arena.tensor("\(slot).mixed", [tokens, channels])
        try attention.run(query: q.data, key: k.data, value: v.data, tokens: tokens, scores: scores.data, output: mixed.data)
        try output.run(mixed.data, rows: tokens, into: residual)
    }
}

/// fc1 → activation → fc2, added onto the residual already in the output buffer.
final class FeedForwardBlock {
    let channels: Int
    let hidden: Int
    private let fc1: LinearLayer, fc2: LinearLayer
    private let slot: String

    init(_ prefix: String, channels: Int, hidden: Int, activation post: PostOp, weights: ModelWeights) throws {
        self.channels = channels
        self.hidden = hidden
        slot = prefix
        fc1 = try weights.linear("\(prefix).fc1", inFeatures: channels, outFeatures: hidden, postOps: [post])
        fc2 = try weights.linear("\(prefix).fc2", inFeatures: hidden, outFeatures: channels, postOps: [.sum])
    }

    func run(_ input: UnsafePointer<Float>, tokens: Int, addingInto residual: UnsafeMutablePointer<Float>,
             arena: ActivationArena) throws {
        let inner = arena.tensor("\(slot).inner", [tokens, hidden])
        try fc1.run(input, rows: tokens, into: inner.data)
        try fc2.run(inner.data, rows: tokens, into: residual)
    }
}

/// A LayerNorm with its parameters, applied in place to [rows, features].
struct LayerNormLayer {
    let parameters: LayerNormParameters

    func callAsFunction(_ x: UnsafeMutablePointer<Float>, rows: Int) {
        parameters.gamma.withUnsafeBufferPointer { gamma in
            parameters.beta.withUnsafeBufferPointer { beta in
                Norm.layerNorm(x, rows: rows, columns: gamma.count, gamma: gamma.baseAddress!,
                               beta: beta.baseAddress!, epsilon: parameters.epsilon)
            }
        }
    }
}

/// An MLP head as `RTDetrMLPPredictionHead`: Linear layers with ReLU between them.
final class PredictionHead {
    private let layers: [LinearLayer]
    private let slot: String
    let outFeatures: Int

    init(_ prefix: String, inFeatures: Int, hidden: Int, outFeatures: Int, layers count: Int,
         weights: ModelWeights) throws {
        let widths = [inFeatures] + Array(repeating: hidden, count: count - 1) + [outFeatures]
        layers = try (0..<count).map { i in
            try weights.linear("\(prefix).layers.\(i)", inFeatures: widths[i], outFeatures: widths[i + 1],
                               postOps: i < count - 1 ? [.relu] : [])
        }
        slot = prefix
        self.outFeatures = outFeatures
    }

    func run(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>,
             arena: ActivationArena) throws {
        var x = input
        for (i, layer) in layers.enumerated() {
            if i == layers.count - 1 {
                try layer.run(x, rows: rows, into: output)
            } else {
                let hidden = arena.tensor("\(slot).\(i)", [rows, layer.outFeatures])
                try layer.run(x, rows: rows, into: hidden.data)
                x = UnsafePointer(hidden.data)
            }
        }
    }
}

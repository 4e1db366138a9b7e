import CDNNL

/// Scaled dot-product attention over heads that live side by side in [tokens, heads·headDim]
/// rows: softmax(Q·Kᵀ)·V per head, on two strided oneDNN batched matmuls. The 1/√headDim
/// scale is expected to be folded into Q by the caller.
final class AttentionFP32 {
    let heads: Int
    let channels: Int
    var headDim: Int { channels / heads }

    private struct Prepared {
        let scores: DNNLPrimitive
        let mix: DNNLPrimitive
        let query: DNNLMemory, keyT: DNNLMemory, scoreMemory: DNNLMemory
        let probabilities: DNNLMemory, value: DNNLMemory, output: DNNLMemory
    }
    private var prepared: [Int: Prepared] = [:]

    init(heads: Int, channels: Int) {
        precondition(channels % heads == 0, "channels \(channels) not divisible by heads \(heads)")
        self.heads = heads
        self.channels = channels
    }

    /// - Parameter scores: scratch of at least heads·tokens² floats.
    func run(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>, tokens: Int,
             scores: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>) throws {
        let state = try prepare(tokens: tokens)
        state.query.point(at: UnsafeMutableRawPointer(mutating: query))
        state.keyT.point(at: UnsafeMutableRawPointer(mutating: key))
        state.scoreMemory.point(at: UnsafeMutableRawPointer(scores))
        try state.scores.execute([(DNNL_ARG_SRC, state.query.handle), (DNNL_ARG_WEIGHTS, state.keyT.handle),
                                  (DNNL_ARG_DST, state.scoreMemory.handle)])
        Softmax.rows(scores, rows: heads * tokens, columns: tokens)
        state.probabilities.point(at: UnsafeMutableRawPointer(scores))
        state.value.point(at: UnsafeMutableRawPointer(mutating: value))
        state.output.point(at: UnsafeMutableRawPointer(output))
        try state.mix.execute([(DNNL_ARG_SRC, state.probabilities.handle), (DNNL_ARG_WEIGHTS, state.value.handle),
                               (DNNL_ARG_DST, state.output.handle)])
    }

    private func prepare(tokens: Int) throws -> Prepared {
        if let state = prepared[tokens] { return state }
        let (h, t, d, c) = (heads, tokens, headDim, channels)
        func strided(_ dims: [Int], _ strides: [Int]) throws -> dnnl_memory_desc_t {
            var md = dnnl_memory_desc_t()
            var dd = dims.map { dnnl_dim_t($0) }, ss = strides.map { dnnl_dim_t($0) }
            try DNNL.check(dnnl_memory_desc_init_by_strides(&md, 3, &dd, dnnl_f32, &ss), "strided descriptor \(dims)")
            return md
        }
        var queryMD = try strided([h, t, d], [d, c, 1])
        var keyTMD = try strided([h, d, t], [d, 1, c])
        var scoresMD = try strided([h, t, t], [t * t, t, 1])
        var valueMD = try strided([h, t, d], [d, c, 1])
        var outputMD = try strided([h, t, d], [d, c, 1])
        func matmul(_ src: inout dnnl_memory_desc_t, _ weights: inout dnnl_memory_desc_t,
                    _ dst: inout dnnl_memory_desc_t) throws -> DNNLPrimitive {
            var desc = dnnl_matmul_desc_t()
            try DNNL.check(dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst), "attention matmul descriptor")
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(dnnl_primitive_desc_create(&pd, &desc, nil, DNNL.engine, nil), "attention matmul")
            return try DNNLPrimitive(descriptor: pd!)
        }
        let state = Prepared(
            scores: try matmul(&queryMD, &keyTMD, &scoresMD),
            mix: try matmul(&scoresMD, &valueMD, &outputMD),
            query: try DNNLMemory(queryMD, pointer: nil), keyT: try DNNLMemory(keyTMD, pointer: nil),
            scoreMemory: try DNNLMemory(scoresMD, pointer: nil), probabilities: try DNNLMemory(scoresMD, pointer: nil),
            value: try DNNLMemory(valueMD, pointer: nil), output: try DNNLMemory(outputMD, pointer: nil))
        prepared[tokens] = state
        return state
    }
}

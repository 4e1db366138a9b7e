import CDNNL

/// Scaled dot-product attention over heads that live side by side in [tokens, heads·headDim]
/// rows: softmax(Q·Kᵀ)·V per head, as two batched oneDNN matmuls. The 1/√headDim scale is
/// expected to be folded into Q by the caller.
///
/// Q, K and V are first gathered into head-major [heads, tokens, headDim] blocks: oneDNN's fast
/// (brgemm) matmul wants dense batches, and strided views of the interleaved heads send it to a
/// generic kernel several times slower. The copies are a few hundred KB.
final class AttentionFP32 {
    let heads: Int
    let channels: Int
    var headDim: Int { channels / heads }

    private struct Prepared {
        let scores: DNNLPrimitive
        let mix: DNNLPrimitive
        let query: DNNLMemory, keyT: DNNLMemory, scoreMemory: DNNLMemory
        let probabilities: DNNLMemory, value: DNNLMemory, output: DNNLMemory
        let blocks: UnsafeMutablePointer<Float>
    }
    private var prepared: [Int: Prepared] = [:]

    init(heads: Int, channels: Int) {
        precondition(channels % heads == 0, "channels \(channels) not divisible by heads \(heads)")
        self.heads = heads
        self.channels = channels
    }

    deinit { for state in prepared.values { state.blocks.deallocate() } }

    /// - Parameter scores: scratch of at least heads·tokens² floats.
    func run(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>, tokens: Int,
             scores: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>) throws {
        let state = try prepare(tokens: tokens)
        let block = tokens * channels
        let (q, k, v, o) = (state.blocks, state.blocks + block, state.blocks + 2 * block, state.blocks + 3 * block)
        gatherHeads(query, into: q, tokens: tokens)
        gatherHeads(key, into: k, tokens: tokens)
        gatherHeads(value, into: v, tokens: tokens)
        state.scoreMemory.point(at: UnsafeMutableRawPointer(scores))
        try state.scores.execute([(DNNL_ARG_SRC, state.query.handle), (DNNL_ARG_WEIGHTS, state.keyT.handle),
                                  (DNNL_ARG_DST, state.scoreMemory.handle)])
        Softmax.rows(scores, rows: heads * tokens, columns: tokens)
        state.probabilities.point(at: UnsafeMutableRawPointer(scores))
        try state.mix.execute([(DNNL_ARG_SRC, state.probabilities.handle), (DNNL_ARG_WEIGHTS, state.value.handle),
                               (DNNL_ARG_DST, state.output.handle)])
        scatterHeads(o, into: output, tokens: tokens)
    }

    /// [tokens, heads·d] → [heads, tokens, d].
    private func gatherHeads(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, tokens: Int) {
        let d = headDim
        for h in 0..<heads {
            for t in 0..<tokens { (target + (h * tokens + t) * d).update(from: source + t * channels + h * d, count: d) }
        }
    }

    /// [heads, tokens, d] → [tokens, heads·d].
    private func scatterHeads(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, tokens: Int) {
        let d = headDim
        for h in 0..<heads {
            for t in 0..<tokens { (target + t * channels + h * d).update(from: source + (h * tokens + t) * d, count: d) }
        }
    }

    private func prepare(tokens: Int) throws -> Prepared {
        if let state = prepared[tokens] { return state }
        let (h, t, d) = (heads, tokens, headDim)
        func strided(_ dims: [Int], _ strides: [Int]) throws -> dnnl_memory_desc_t {
            var md = dnnl_memory_desc_t()
            var dd = dims.map { dnnl_dim_t($0) }, ss = strides.map { dnnl_dim_t($0) }
            try DNNL.check(dnnl_memory_desc_init_by_strides(&md, 3, &dd, dnnl_f32, &ss), "strided descriptor \(dims)")
            return md
        }
        var queryMD = try strided([h, t, d], [t * d, d, 1])
        // Kᵀ as a transposed view of the dense K block.
        var keyTMD = try strided([h, d, t], [t * d, 1, d])
        var scoresMD = try strided([h, t, t], [t * t, t, 1])
        var valueMD = try strided([h, t, d], [t * d, d, 1])
        var outputMD = try strided([h, t, d], [t * d, d, 1])
        func matmul(_ src: inout dnnl_memory_desc_t, _ weights: inout dnnl_memory_desc_t,
                    _ dst: inout dnnl_memory_desc_t) throws -> DNNLPrimitive {
            var desc = dnnl_matmul_desc_t()
            try DNNL.check(dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst), "attention matmul descriptor")
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(dnnl_primitive_desc_create(&pd, &desc, nil, DNNL.engine, nil), "attention matmul")
            return try DNNLPrimitive(descriptor: pd!)
        }
        let blocks = UnsafeMutablePointer<Float>.allocate(capacity: 4 * t * channels)
        let block = t * channels
        let state = Prepared(
            scores: try matmul(&queryMD, &keyTMD, &scoresMD),
            mix: try matmul(&scoresMD, &valueMD, &outputMD),
            query: try DNNLMemory(queryMD, pointer: blocks), keyT: try DNNLMemory(keyTMD, pointer: blocks + block),
            scoreMemory: try DNNLMemory(scoresMD, pointer: nil), probabilities: try DNNLMemory(scoresMD, pointer: nil),
            value: try DNNLMemory(valueMD, pointer: blocks + 2 * block),
            output: try DNNLMemory(outputMD, pointer: blocks + 3 * block),
            blocks: blocks)
        prepared[tokens] = state
        return state
    }
}

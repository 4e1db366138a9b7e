import CDNNL

/// y = x·Wᵀ + b for a [rows, inFeatures] input, FP32 on oneDNN's matmul, with fused post-ops.
/// Weights arrive as PyTorch's [outFeatures, inFeatures] and are packed once per row count.
final class LinearFP32 {
    let name: String
    let inFeatures: Int
    let outFeatures: Int
    let postOps: [PostOp]
    private let weights: [Float]
    private let biasBuffer: PackedBuffer

    private struct Prepared {
        let primitive: DNNLPrimitive
        let packedWeights: PackedBuffer
        let src: DNNLMemory
        let weights: DNNLMemory
        let bias: DNNLMemory
        let dst: DNNLMemory
    }
    private var prepared: [Int: Prepared] = [:]

    init(name: String, weights: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int, postOps: [PostOp] = []) {
        precondition(weights.count == inFeatures * outFeatures, "\(name): weight size")
        self.name = name
        self.weights = weights
        self.biasBuffer = PackedBuffer(copying: bias ?? [Float](repeating: 0, count: outFeatures))
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.postOps = postOps
    }

    /// `output` must already hold the residual when `postOps` starts with `.sum`.
    func run(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) throws {
        let state = try prepare(rows: rows)
        state.src.point(at: UnsafeMutableRawPointer(mutating: input))
        state.dst.point(at: UnsafeMutableRawPointer(output))
        try state.primitive.execute([
            (DNNL_ARG_SRC, state.src.handle), (DNNL_ARG_WEIGHTS, state.weights.handle),
            (DNNL_ARG_BIAS, state.bias.handle), (DNNL_ARG_DST, state.dst.handle),
        ])
    }

    func run(_ input: Tensor, into output: Tensor) throws {
        let rows = input.count / inFeatures
        precondition(rows * inFeatures == input.count, "\(name): input \(input.shape) is not a multiple of \(inFeatures)")
        output.reshape([rows, outFeatures])
        try run(input.data, rows: rows, into: output.data)
    }

    private func prepare(rows: Int) throws -> Prepared {
        if let state = prepared[rows] { return state }
        var srcMD = try DNNL.memoryDescriptor([rows, inFeatures], dnnl_f32, dnnl_ab)
        var anyWeights = try DNNL.memoryDescriptor([inFeatures, outFeatures], dnnl_f32, dnnl_format_tag_any)
        var biasMD = try DNNL.memoryDescriptor([1, outFeatures], dnnl_f32, dnnl_ab)
        var dstMD = try DNNL.memoryDescriptor([rows, outFeatures], dnnl_f32, dnnl_ab)
        var desc = dnnl_matmul_desc_t()
        try DNNL.check(dnnl_matmul_desc_init(&desc, &srcMD, &anyWeights, &biasMD, &dstMD), "\(name): matmul descriptor")
        let attr = try PostOp.attribute(for: postOps)
        defer { dnnl_primitive_attr_destroy(attr) }
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(dnnl_primitive_desc_create(&pd, &desc, attr, DNNL.engine, nil), "\(name): matmul")
        let primitive = try DNNLPrimitive(descriptor: pd!)
        let weightsMD = primitive.queryMemory(dnnl_query_weights_md)
        // PyTorch's [out, in] row-major is the [in, out] matrix in column-major ("ba").
        let plainWeights = try DNNL.memoryDescriptor([inFeatures, outFeatures], dnnl_f32, dnnl_ba)
        let packed = try weights.withUnsafeBytes {
            try DNNLPrimitive.reorder($0.baseAddress!, from: plainWeights, to: weightsMD)
        }
        let state = Prepared(
            primitive: primitive, packedWeights: packed,
            src: try DNNLMemory(srcMD, pointer: nil),
            weights: try DNNLMemory(weightsMD, pointer: packed.pointer),
            bias: try DNNLMemory(biasMD, pointer: biasBuffer.pointer),
            dst: try DNNLMemory(dstMD, pointer: nil))
        prepared[rows] = state
        return state
    }
}

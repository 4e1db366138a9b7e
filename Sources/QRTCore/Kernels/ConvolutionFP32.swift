import CDNNL

/// A 2-D convolution, FP32, NHWC activations, on oneDNN, with bias and fused post-ops.
///
/// Lifecycle as in oneDNN and XNNPACK: `init` keeps the weights (OIHW, PyTorch's layout);
/// the first `run` for an input size creates the primitive and packs the weights into the
/// layout oneDNN chose; later runs at that size only re-point memory and execute.
final class ConvolutionFP32 {
    let name: String
    let geometry: ConvolutionGeometry
    let postOps: [PostOp]
    private let weightsOIHW: [Float]
    private let bias: PackedBuffer

    var inChannels: Int { geometry.inChannels }
    var outChannels: Int { geometry.outChannels }

    private struct Prepared {
        let primitive: DNNLPrimitive
        let packedWeights: PackedBuffer
        let src: DNNLMemory, weights: DNNLMemory, bias: DNNLMemory, dst: DNNLMemory
        /// Set when the primitive works on blocked (nChw16c) buffers: Winograd needs them.
        let blocked: BlockedLayout?
        /// Set when the residual sum runs after the primitive instead of inside it: oneDNN's AVX2
        /// kernels take no sum after an activation and would fall back to the reference code.
        let separateSum: Tensor?
    }

    /// Reorders between the model's NHWC tensors and a primitive's blocked buffers.
    private struct BlockedLayout {
        let toBlocked: DNNLPrimitive, residualToBlocked: DNNLPrimitive, toNHWC: DNNLPrimitive
        let nhwcInput: DNNLMemory, nhwcOutput: DNNLMemory
        let blockedInput: PackedBuffer, blockedOutput: PackedBuffer
    }
    private var prepared: [Int: Prepared] = [:]

    init(name: String, weightsOIHW: [Float], bias: [Float], inChannels: Int, outChannels: Int,
         kernel: Int, stride: Int, padding: Int, postOps: [PostOp]) {
        precondition(weightsOIHW.count == outChannels * inChannels * kernel * kernel, "\(name): weight size")
        precondition(bias.count == outChannels, "\(name): bias size")
        self.name = name
        self.weightsOIHW = weightsOIHW
        self.bias = PackedBuffer(copying: bias)
        geometry = ConvolutionGeometry(inChannels: inChannels, outChannels: outChannels, kernel: kernel,
                                       stride: stride, padding: padding)
        self.postOps = postOps
    }

    func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        geometry.outputSize(height: height, width: width)
    }

    func run(_ input: Tensor, into output: Tensor) throws {
        let size = outputSize(height: input.shape[0], width: input.shape[1])
        output.reshape([size.height, size.width, outChannels])
        try run(input, into: output.data)
    }

    /// Writes [outHeight, outWidth, outChannels] at `output` (e.g. a slice of a larger buffer), which
    /// must already hold the residual when `postOps` has a `.sum`.
    func run(_ input: Tensor, into output: UnsafeMutablePointer<Float>) throws {
        precondition(input.shape[2] == inChannels, "\(name): input has \(input.shape[2]) channels, expected \(inChannels)")
        let state = try prepare(height: input.shape[0], width: input.shape[1])
        let arguments = [
            (DNNL_ARG_SRC, state.src.handle), (DNNL_ARG_WEIGHTS, state.weights.handle),
            (DNNL_ARG_BIAS, state.bias.handle), (DNNL_ARG_DST, state.dst.handle),
        ]
        if let result = state.separateSum {
            state.src.point(at: UnsafeMutableRawPointer(input.data))
            state.dst.point(at: UnsafeMutableRawPointer(result.data))
            try state.primitive.execute(arguments)
            Elementwise.add(output, result.data, count: result.count)
            return
        }
        guard let blocked = state.blocked else {
            state.src.point(at: UnsafeMutableRawPointer(input.data))
            state.dst.point(at: UnsafeMutableRawPointer(output))
            try state.primitive.execute(arguments)
            return
        }
        blocked.nhwcInput.point(at: UnsafeMutableRawPointer(input.data))
        blocked.nhwcOutput.point(at: UnsafeMutableRawPointer(output))
        try blocked.toBlocked.execute([(DNNL_ARG_FROM, blocked.nhwcInput.handle), (DNNL_ARG_TO, state.src.handle)])
        if postOps.contains(.sum) {
            try blocked.residualToBlocked.execute([(DNNL_ARG_FROM, blocked.nhwcOutput.handle), (DNNL_ARG_TO, state.dst.handle)])
        }
        try state.primitive.execute(arguments)
        try blocked.toNHWC.execute([(DNNL_ARG_FROM, state.dst.handle), (DNNL_ARG_TO, blocked.nhwcOutput.handle)])
    }

    /// Whether the input size runs on oneDNN's reference code (it must not: see `separateSum`).
    func runsReferenceCode(height: Int, width: Int) throws -> Bool {
        try prepare(height: height, width: width).primitive.isReference
    }

    private func prepare(height: Int, width: Int) throws -> Prepared {
        let key = height << 32 | width
        if let state = prepared[key] { return state }
        // 3×3 stride-1 convolutions carry most of RT-DETR's FLOPs; Winograd F(4×4, 3×3) does them
        // with 2.25× fewer multiplies (2–3× faster here) at float32 accuracy well inside parity.
        let winograd = geometry.kernel == 3 && geometry.stride == 1
        var state = try (winograd ? try? prepare(height: height, width: width, winograd: true) : nil)
            ?? prepare(height: height, width: width, winograd: false)
        if state.primitive.isReference, postOps.count > 1, postOps.last == .sum {
            state = try prepare(height: height, width: width, winograd: false, separateSum: true)
        }
        prepared[key] = state
        return state
    }

    private func prepare(height: Int, width: Int, winograd: Bool, separateSum: Bool = false) throws -> Prepared {
        let desc = try geometry.descriptor(
            height: height, width: width, source: dnnl_f32, weights: dnnl_f32, layout: winograd ? dnnl_nChw16c : dnnl_nhwc,
            algorithm: winograd ? dnnl_convolution_winograd : dnnl_convolution_direct, name: name)
        let attr = try PostOp.attribute(for: separateSum ? postOps.dropLast() : postOps)
        defer { dnnl_primitive_attr_destroy(attr) }
        let primitive = try DNNLPrimitive.create(desc, attributes: attr, name: "\(name): convolution")
        let (k, cin, cout) = (geometry.kernel, inChannels, outChannels)
        let (outHeight, outWidth) = outputSize(height: height, width: width)
        let packed = try primitive.packWeights(weightsOIHW, plain: try DNNL.memoryDescriptor([cout, cin, k, k], dnnl_f32, dnnl_oihw))
        var srcMD = primitive.queryMemory(dnnl_query_src_md), dstMD = primitive.queryMemory(dnnl_query_dst_md)
        var blocked: BlockedLayout?
        if winograd {
            let nhwcIn = try DNNL.memoryDescriptor([1, cin, height, width], dnnl_f32, dnnl_nhwc)
            let nhwcOut = try DNNL.memoryDescriptor([1, cout, outHeight, outWidth], dnnl_f32, dnnl_nhwc)
            blocked = BlockedLayout(
                toBlocked: try DNNLPrimitive.reorderPrimitive(from: nhwcIn, to: srcMD),
                residualToBlocked: try DNNLPrimitive.reorderPrimitive(from: nhwcOut, to: dstMD),
                toNHWC: try DNNLPrimitive.reorderPrimitive(from: dstMD, to: nhwcOut),
                nhwcInput: try DNNLMemory(nhwcIn, pointer: nil), nhwcOutput: try DNNLMemory(nhwcOut, pointer: nil),
                blockedInput: PackedBuffer(byteCount: dnnl_memory_desc_get_size(&srcMD)),
                blockedOutput: PackedBuffer(byteCount: dnnl_memory_desc_get_size(&dstMD)))
        }
        return Prepared(
            primitive: primitive, packedWeights: packed.buffer,
            src: try DNNLMemory(srcMD, pointer: blocked?.blockedInput.pointer), weights: packed.memory,
            bias: try DNNLMemory(try DNNL.memoryDescriptor([cout], dnnl_f32, dnnl_a), pointer: bias.pointer),
            dst: try DNNLMemory(dstMD, pointer: blocked?.blockedOutput.pointer), blocked: blocked,
            separateSum: separateSum ? Tensor(shape: [outHeight, outWidth, cout]) : nil)
    }
}

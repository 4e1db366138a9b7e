import CDNNL

/// The shape of a square-kernel 2-D convolution with PyTorch's symmetric padding, and the oneDNN
/// descriptor for it at an input size: shared by the FP32 and INT8 kernels.
struct ConvolutionGeometry: Sendable, Hashable {
    let inChannels: Int
    let outChannels: Int
    let kernel: Int
    let stride: Int
    let padding: Int

    func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1)
    }

    /// Source and destination in `layout` (`source` typed, destination f32), weights in the layout
    /// oneDNN prefers, f32 bias.
    func descriptor(height: Int, width: Int, source: dnnl_data_type_t, weights: dnnl_data_type_t,
                    layout: dnnl_format_tag_t, algorithm: dnnl_alg_kind_t, name: String) throws -> dnnl_convolution_desc_t {
        let (outHeight, outWidth) = outputSize(height: height, width: width)
        var srcMD = try DNNL.memoryDescriptor([1, inChannels, height, width], source, layout)
        var anyWeights = try DNNL.memoryDescriptor([outChannels, inChannels, kernel, kernel], weights, dnnl_format_tag_any)
        var biasMD = try DNNL.memoryDescriptor([outChannels], dnnl_f32, dnnl_a)
        var dstMD = try DNNL.memoryDescriptor([1, outChannels, outHeight, outWidth], dnnl_f32, layout)
        var strides: [dnnl_dim_t] = [dnnl_dim_t(stride), dnnl_dim_t(stride)]
        var pads: [dnnl_dim_t] = [dnnl_dim_t(padding), dnnl_dim_t(padding)]
        // oneDNN wants the right/bottom padding that makes PyTorch's output size come out.
        var padsRight: [dnnl_dim_t] = [
            dnnl_dim_t((outHeight - 1) * stride + kernel - height - padding),
            dnnl_dim_t((outWidth - 1) * stride + kernel - width - padding),
        ]
        var desc = dnnl_convolution_desc_t()
        try DNNL.check(dnnl_convolution_forward_desc_init(
            &desc, dnnl_forward_inference, algorithm, &srcMD, &anyWeights, &biasMD, &dstMD, &strides, &pads, &padsRight),
            "\(name): convolution descriptor")
        return desc
    }
}

/// The matmul of a linear layer, y[rows, out] = x[rows, in] · Wᵀ + b, with weights in the layout
/// oneDNN prefers (PyTorch's [out, in] row-major is the plain "ba" form of [in, out]).
struct LinearGeometry: Sendable, Hashable {
    let inFeatures: Int
    let outFeatures: Int

    func descriptor(rows: Int, source: dnnl_data_type_t, weights: dnnl_data_type_t, name: String) throws -> dnnl_matmul_desc_t {
        var srcMD = try DNNL.memoryDescriptor([rows, inFeatures], source, dnnl_ab)
        var anyWeights = try DNNL.memoryDescriptor([inFeatures, outFeatures], weights, dnnl_format_tag_any)
        var biasMD = try DNNL.memoryDescriptor([1, outFeatures], dnnl_f32, dnnl_ab)
        var dstMD = try DNNL.memoryDescriptor([rows, outFeatures], dnnl_f32, dnnl_ab)
        var desc = dnnl_matmul_desc_t()
        try DNNL.check(dnnl_matmul_desc_init(&desc, &srcMD, &anyWeights, &biasMD, &dstMD), "\(name): matmul descriptor")
        return desc
    }

    func plainWeights(_ type: dnnl_data_type_t) throws -> dnnl_memory_desc_t {
        try DNNL.memoryDescriptor([inFeatures, outFeatures], type, dnnl_ba)
    }

    var biasDescriptor: dnnl_memory_desc_t { get throws { try DNNL.memoryDescriptor([1, outFeatures], dnnl_f32, dnnl_ab) } }
}

extension DNNLPrimitive {
    /// A primitive for an operation descriptor (convolution, matmul) with attributes.
    static func create<Descriptor>(_ descriptor: Descriptor, attributes: dnnl_primitive_attr_t?, name: String) throws
        -> DNNLPrimitive
    {
        var desc = descriptor
        var pd: dnnl_primitive_desc_t?
        let status = withUnsafePointer(to: &desc) {
            dnnl_primitive_desc_create(&pd, UnsafeRawPointer($0), attributes, DNNL.engine, nil)
        }
        try DNNL.check(status, name)
        return try DNNLPrimitive(descriptor: pd!)
    }

    /// The weights, given in `plain` layout, packed into the layout this primitive chose.
    func packWeights<Element>(_ values: [Element], plain: dnnl_memory_desc_t) throws -> (buffer: PackedBuffer, memory: DNNLMemory) {
        let packedMD = queryMemory(dnnl_query_weights_md)
        let buffer = try values.withUnsafeBytes { try DNNLPrimitive.reorder($0.baseAddress!, from: plain, to: packedMD) }
        return (buffer, try DNNLMemory(packedMD, pointer: buffer.pointer))
    }
}

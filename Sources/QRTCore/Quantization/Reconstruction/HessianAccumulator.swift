import CDNNL

/// Accumulates one layer's `LayerHessian`, H = Σ xᵀx over its input rows, from input activations
/// fed one buffer at a time (NHWC [H, W, C] for a convolution, [rows, features] for a linear layer).
///
/// A convolution's rows are its im2col rows: one per output position, the receptive field with
/// zero padding. They are gathered in the input's (ky, kx, c) order — whole pixels (runs of C
/// floats, whole kernel rows where no padding intrudes) copy at once — and H is permuted once, in
/// `hessian()`, into the weights' OIHW order (c·k + ky)·k + kx.
///
/// Rows gather into a block of `blockRows`; a full block costs one FP32 oneDNN matmul Xᵀ·X (the
/// dominant cost) whose upper triangle is added into a Double sum, so precision is lost only within
/// a block. Partial blocks carry over to the next buffer; `hessian()` flushes the last one.
///
/// `subsample` n keeps one row in n, deterministically: output position (oy, ox) of the t-th
/// buffer (t from 0) when (oy + ox + t) mod n = 0 — a diagonal lattice, every row and column of
/// the map represented, shifted from buffer to buffer; linear rows r when (r + t) mod n = 0.
final class HessianAccumulator {
    enum Geometry: Sendable, Hashable {
        case linear(features: Int)
        /// Square kernel, same stride and zero padding on both axes, as `ConvolutionLayer`.
        case convolution(inChannels: Int, kernel: Int, stride: Int, padding: Int)

        /// Elements per weight channel: the order of H.
        var columns: Int {
            switch self {
            case .linear(let features): features
            case .convolution(let inChannels, let kernel, _, _): inChannels * kernel * kernel
            }
        }
    }

    /// An input buffer that does not fit the layer.
    enum InputError: Error, Equatable, CustomStringConvertible {
        case count(expected: Int, found: Int)
        case shape([Int], geometry: Geometry)
        /// The padded input is smaller than the kernel: no output positions.
        case noOutput(height: Int, width: Int, geometry: Geometry)

        var description: String {
            switch self {
            case .count(let expected, let found): "Hessian input: \(found) values, expected \(expected)"
            case .shape(let shape, let geometry): "Hessian input: shape \(shape) does not fit \(geometry)"
            case .noOutput(let h, let w, let geometry): "Hessian input: \(h)×\(w) gives no output for \(geometry)"
            }
        }
    }

    /// Im2col block target, in floats (16 MiB): big enough that the Double flush of the K×K block
    /// product is noise next to the matmul, small enough to stay off the memory budget.
    static let blockFloats = 1 << 22

    let geometry: Geometry
    let subsample: Int
    let columns: Int
    let blockRows: Int
    /// Rows accumulated so far (after subsampling), pending ones included.
    private(set) var rows = 0
    private var buffersSeen = 0
    private var pending = 0
    /// Σ xᵀx in gather order; only the upper triangle is maintained (`hessian()` mirrors it).
    private let sum: UnsafeMutablePointer<Double>
    private let product: UnsafeMutablePointer<Float>
    private let patches: UnsafeMutablePointer<Float>
    private var primitives: [Int: Prepared] = [:]

    private struct Prepared {
        let primitive: DNNLPrimitive
        let transposed: DNNLMemory, rows: DNNLMemory, product: DNNLMemory
    }

    /// - Parameter blockRows: rows per matmul; by default about `blockFloats` floats of im2col.
    init(geometry: Geometry, subsample: Int = 1, blockRows: Int? = nil) {
        switch geometry {
        case .linear(let features):
            precondition(features > 0, "linear Hessian with \(features) features")
        case .convolution(let inChannels, let kernel, let stride, let padding):
            precondition(inChannels > 0 && kernel > 0 && stride > 0 && padding >= 0 && padding < kernel,
                         "convolution Hessian geometry \(geometry)")
        }
        precondition(subsample >= 1, "subsample \(subsample) < 1")
        self.geometry = geometry
        self.subsample = subsample
        columns = geometry.columns
        self.blockRows = blockRows ?? max(512, min(8192, Self.blockFloats / columns))
        precondition(self.blockRows >= 1, "block of \(self.blockRows) rows")
        sum = .allocate(capacity: columns * columns)
        sum.initialize(repeating: 0, count: columns * columns)
        product = .allocate(capacity: columns * columns)
        patches = .allocate(capacity: self.blockRows * columns)
    }

    convenience init(layer: QuantizableLayer, subsample: Int = 1) {
        switch layer {
        case let conv as ConvolutionLayer:
            self.init(geometry: .convolution(inChannels: conv.inChannels, kernel: conv.kernel, stride: conv.stride,
                                             padding: conv.padding), subsample: subsample)
        case let linear as LinearLayer:
            self.init(geometry: .linear(features: linear.inFeatures), subsample: subsample)
        default:
            preconditionFailure("no Hessian geometry for \(type(of: layer)) \(layer.name)")
        }
    }

    deinit {
        sum.deallocate()
        product.deallocate()
        patches.deallocate()
    }

    /// A convolution's NHWC [H, W, C] (or [1, H, W, C]) input, or a linear layer's [..., features].
    func accumulate(_ input: Tensor) throws {
        try accumulate(UnsafeBufferPointer(input.buffer), shape: input.shape)
    }

    /// Values with their shape, as a layer's input observer sees them.
    func accumulate(_ values: UnsafeBufferPointer<Float>, shape: [Int]) throws {
        switch geometry {
        case .linear(let features):
            guard let last = shape.last, last == features else { throw InputError.shape(shape, geometry: geometry) }
            try accumulate(values, rows: shape.reduce(1, *) / features)
        case .convolution(let inChannels, _, _, _):
            let image = shape.first == 1 && shape.count == 4 ? Array(shape.dropFirst()) : shape
            guard image.count == 3, image[2] == inChannels else { throw InputError.shape(shape, geometry: geometry) }
            try accumulate(values, height: image[0], width: image[1])
        }
    }

    /// A linear layer's input, [rows, features] row-major.
    func accumulate(_ input: UnsafeBufferPointer<Float>, rows inputRows: Int) throws {
        guard case .linear(let features) = geometry else { throw InputError.shape([inputRows, columns], geometry: geometry) }
        guard input.count == inputRows * features else { throw InputError.count(expected: inputRows * features, found: input.count) }
        let phase = buffersSeen % subsample
        buffersSeen += 1
        var r = (subsample - phase) % subsample
        while r < inputRows {
            (patches + pending * columns).update(from: input.baseAddress! + r * features, count: features)
            try rowAdded()
            r += subsample
        }
    }

    /// A convolution's input, NHWC [height, width, inChannels].
    func accumulate(_ input: UnsafeBufferPointer<Float>, height: Int, width: Int) throws {
        guard case .convolution(let channels, let k, let stride, let padding) = geometry else {
            throw InputError.shape([height, width], geometry: geometry)
        }
        guard input.count == height * width * channels else {
            throw InputError.count(expected: height * width * channels, found: input.count)
        }
        let outHeight = (height + 2 * padding - k) / stride + 1
        let outWidth = (width + 2 * padding - k) / stride + 1
        guard height + 2 * padding >= k, width + 2 * padding >= k, outHeight > 0, outWidth > 0 else {
            throw InputError.noOutput(height: height, width: width, geometry: geometry)
        }
        let phase = buffersSeen % subsample
        buffersSeen += 1
        let source = input.baseAddress!
        let pixelRun = k * channels
        for oy in 0..<outHeight {
            var ox = (subsample - (oy + phase) % subsample) % subsample
            while ox < outWidth {
                let row = patches + pending * columns
                let x0 = ox * stride - padding
                for ky in 0..<k {
                    let y = oy * stride - padding + ky
                    let target = row + ky * pixelRun
                    if y < 0 || y >= height {
                        target.update(repeating: 0, count: pixelRun)
                    } else if x0 >= 0 && x0 + k <= width {
                        target.update(from: source + (y * width + x0) * channels, count: pixelRun)
                    } else {
                        for kx in 0..<k {
                            let x = x0 + kx
                            if x < 0 || x >= width {
                                (target + kx * channels).update(repeating: 0, count: channels)
                            } else {
                                (target + kx * channels).update(from: source + (y * width + x) * channels, count: channels)
                            }
                        }
                    }
                }
                try rowAdded()
                ox += subsample
            }
        }
    }

    /// H in the weights' column order, full symmetric, with every row fed so far.
    func hessian() throws -> LayerHessian {
        try flush()
        let n = columns
        // gather[a]: where weight column a lives in the gathered rows.
        let gather: [Int]
        switch geometry {
        case .linear:
            gather = Array(0..<n)
        case .convolution(let channels, let k, _, _):
            gather = (0..<n).map { a in
                let (c, spatial) = a.quotientAndRemainder(dividingBy: k * k)
                return spatial * channels + c
            }
        }
        // Mirror the upper triangle (tile by tile, to stay in cache), then read H row by row.
        let tile = 64
        for ib in stride(from: 0, to: n, by: tile) {
            for jb in stride(from: ib, to: n, by: tile) {
                for i in ib..<min(ib + tile, n) {
                    for j in max(jb, i + 1)..<min(jb + tile, n) { sum[j * n + i] = sum[i * n + j] }
                }
            }
        }
        var values = [Double](repeating: 0, count: n * n)
        values.withUnsafeMutableBufferPointer { out in
            for a in 0..<n {
                let source = sum + gather[a] * n, target = out.baseAddress! + a * n
                for b in 0..<n { target[b] = source[gather[b]] }
            }
        }
        return LayerHessian(columns: n, rows: rows, values: values)
    }

    private func rowAdded() throws {
        pending += 1
        rows += 1
        if pending == blockRows { try flush() }
    }

    /// Σ += Xᵀ·X of the pending rows: FP32 matmul, upper triangle added in Double.
    private func flush() throws {
        guard pending > 0 else { return }
        let state = try prepare(rows: pending)
        try state.primitive.execute([(DNNL_ARG_SRC, state.transposed.handle), (DNNL_ARG_WEIGHTS, state.rows.handle),
                                     (DNNL_ARG_DST, state.product.handle)])
        pending = 0
        let n = columns
        for i in 0..<n {
            let target = sum + i * n, block = product + i * n
            for j in i..<n { target[j] += Double(block[j]) }
        }
    }

    private func prepare(rows count: Int) throws -> Prepared {
        if let state = primitives[count] { return state }
        let n = columns
        func strided(_ dims: [Int], _ strides: [Int]) throws -> dnnl_memory_desc_t {
            var md = dnnl_memory_desc_t()
            var d = dims.map { dnnl_dim_t($0) }, s = strides.map { dnnl_dim_t($0) }
            try DNNL.check(dnnl_memory_desc_init_by_strides(&md, 2, &d, dnnl_f32, &s), "Hessian descriptor \(dims)")
            return md
        }
        // Xᵀ [n, rows] is the row block read column-major; X [rows, n] row-major; H block [n, n].
        var transposedMD = try strided([n, count], [1, n])
        var rowsMD = try strided([count, n], [n, 1])
        var productMD = try strided([n, n], [n, 1])
        var desc = dnnl_matmul_desc_t()
        try DNNL.check(dnnl_matmul_desc_init(&desc, &transposedMD, &rowsMD, nil, &productMD), "Hessian matmul descriptor")
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(dnnl_primitive_desc_create(&pd, &desc, nil, DNNL.engine, nil), "Hessian matmul")
        let state = Prepared(primitive: try DNNLPrimitive(descriptor: pd!),
                             transposed: try DNNLMemory(transposedMD, pointer: UnsafeMutableRawPointer(patches)),
                             rows: try DNNLMemory(rowsMD, pointer: UnsafeMutableRawPointer(patches)),
                             product: try DNNLMemory(productMD, pointer: UnsafeMutableRawPointer(product)))
        // The full block size and at most one remainder per distinct tail are ever built.
        if primitives.count > 8 { primitives.removeAll() }
        primitives[count] = state
        return state
    }
}

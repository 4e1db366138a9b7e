import Foundation

/// Named FP32 weights for building a model, with the checkpoint-format rules in one place:
/// older transformers key names, batch-norm folding, and strict accounting of what was used.
final class ModelWeights {
    /// Where the tensors come from: a checkpoint file, or anything else that can hand out floats.
    protocol Source {
        var label: String { get }
        var tensorNames: [String] { get }
        func shape(of name: String) -> [Int]?
        func floats(_ name: String, shape: [Int]) throws -> [Float]
    }

    private let source: Source
    /// Layers stored ready-made (folded, fused, possibly quantized), as in a `.qrt` artifact.
    private let prepared: PreparedLayers?
    /// The layers built from these weights share it: execution mode and input observers.
    let context = QuantizationContext()
    /// Canonical (newest transformers) name → name in the file.
    private var fileName: [String: String] = [:]
    private(set) var used: Set<String> = []
    /// Parameters read outside convolution/linear layers (LayerNorms), kept for artifacts.
    private(set) var auxiliary: [(name: String, values: [Float])] = []

    /// transformers 4.x names → transformers 5.x names (its own conversion_mapping for rt_detr).
    static let legacyRenames: [(pattern: String, replacement: String)] = [
        (#"\.out_proj\."#, ".o_proj."),
        (#"layers\.(\d+)\.fc1\."#, "layers.$1.mlp.fc1."),
        (#"layers\.(\d+)\.fc2\."#, "layers.$1.mlp.fc2."),
        (#"encoder\.encoder\.(\d+)\.layers"#, "encoder.aifi.$1.layers"),
        // 4.x tied the detection heads at the top level as well as inside the decoder.
        (#"^class_embed\."#, "model.decoder.class_embed."),
        (#"^bbox_embed\."#, "model.decoder.bbox_embed."),
    ]

    init(_ source: Source, prepared: PreparedLayers? = nil) {
        self.source = source
        self.prepared = prepared
        for name in source.tensorNames {
            let canonical = Self.canonicalName(name)
            // When both the tied top-level head and the decoder's copy exist, keep the decoder's.
            if fileName[canonical] == nil || canonical == name { fileName[canonical] = name }
        }
    }

    static func canonicalName(_ name: String) -> String {
        var result = name
        for rule in legacyRenames {
            result = result.replacingOccurrences(of: rule.pattern, with: rule.replacement, options: .regularExpression)
        }
        return result
    }

    func contains(_ name: String) -> Bool { fileName[name] != nil }

    func floats(_ name: String, _ shape: [Int]) throws -> [Float] {
        guard let stored = fileName[name] else {
            throw CheckpointError(.missingTensor, file: source.label, subject: CheckpointError.tensor(name), "missing")
        }
        used.insert(stored)
        return try source.floats(stored, shape: shape)
    }

    /// Weights and bias of a convolution followed by batch norm, folded into one convolution.
    func foldedConvolution(conv: String, norm: String, outChannels: Int, inChannels: Int, kernel: Int,
                           epsilon: Float, convHasBias: Bool = false) throws -> (weights: [Float], bias: [Float]) {
        var weights = try floats("\(conv).weight", [outChannels, inChannels, kernel, kernel])
        let convBias = convHasBias ? try floats("\(conv).bias", [outChannels]) : [Float](repeating: 0, count: outChannels)
        let gamma = try floats("\(norm).weight", [outChannels])
        let beta = try floats("\(norm).bias", [outChannels])
        let mean = try floats("\(norm).running_mean", [outChannels])
        let variance = try floats("\(norm).running_var", [outChannels])
        if let tracked = fileName["\(norm).num_batches_tracked"] { used.insert(tracked) }
        var bias = [Float](repeating: 0, count: outChannels)
        let perChannel = inChannels * kernel * kernel
        for o in 0..<outChannels {
            // Fold in double so the folded weights round once, like the reference's float math would.
            let scale = Double(gamma[o]) / (Double(variance[o]) + Double(epsilon)).squareRoot()
            for i in 0..<perChannel { weights[o * perChannel + i] = Float(Double(weights[o * perChannel + i]) * scale) }
            bias[o] = Float(Double(beta[o]) + (Double(convBias[o]) - Double(mean[o])) * scale)
        }
        return (weights, bias)
    }

    /// A convolution + batch norm pair (+ post-ops) as one folded oneDNN convolution.
    func convolution(_ name: String, conv: String, norm: String, inChannels: Int, outChannels: Int, kernel: Int,
                     stride: Int = 1, epsilon: Float, postOps: [PostOp] = []) throws -> ConvolutionLayer {
        try convolution(name, inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                        postOps: postOps) {
            try foldedConvolution(conv: conv, norm: norm, outChannels: outChannels, inChannels: inChannels,
                                  kernel: kernel, epsilon: epsilon)
        }
    }

    /// A convolution padded to keep "same" geometry, whose weights `make` derives from checkpoint
    /// tensors (folding, fusing) unless the layer is stored ready-made.
    func convolution(_ name: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1,
                     postOps: [PostOp] = [], make: () throws -> (weights: [Float], bias: [Float])) throws -> ConvolutionLayer {
        let stored = try prepared?.layer(name, outputChannels: outChannels, elementsPerChannel: inChannels * kernel * kernel)
        let (weights, bias) = try stored.map { ($0.weights, $0.bias) } ?? make()
        let layer = ConvolutionLayer(name: name, weightsOIHW: weights, bias: bias, inChannels: inChannels,
                                     outChannels: outChannels, kernel: kernel, stride: stride, padding: (kernel - 1) / 2,
                                     postOps: postOps, context: context)
        layer.quantization = stored?.quantization
        return layer
    }

    func linear(_ prefix: String, inFeatures: Int, outFeatures: Int, postOps: [PostOp] = [],
                scale: Float = 1) throws -> LinearLayer {
        if let stored = try prepared?.layer(prefix, outputChannels: outFeatures, elementsPerChannel: inFeatures) {
            let layer = LinearLayer(name: prefix, weights: stored.weights, bias: stored.bias, inFeatures: inFeatures,
                                    outFeatures: outFeatures, postOps: postOps, context: context)
            layer.quantization = stored.quantization
            return layer
        }
        var weights = try floats("\(prefix).weight", [outFeatures, inFeatures])
        var bias = try floats("\(prefix).bias", [outFeatures])
        if scale != 1 {
            for i in weights.indices { weights[i] *= scale }
            for i in bias.indices { bias[i] *= scale }
        }
        return LinearLayer(name: prefix, weights: weights, bias: bias, inFeatures: inFeatures,
                           outFeatures: outFeatures, postOps: postOps, context: context)
    }

    /// Marks checkpoint tensors inference does not need as expected, so they are not reported unused.
    func acknowledge(_ names: [String]) {
        for name in names { if let stored = fileName[name] { used.insert(stored) } }
    }

    func layerNorm(_ prefix: String, features: Int, epsilon: Float) throws -> LayerNormParameters {
        let gamma = try floats("\(prefix).weight", [features]), beta = try floats("\(prefix).bias", [features])
        auxiliary += [("\(prefix).weight", gamma), ("\(prefix).bias", beta)]
        return LayerNormParameters(gamma: gamma, beta: beta, epsilon: epsilon)
    }

    /// Tensors in the file that no layer asked for, except those inference never needs.
    func unusedTensors() -> [String] {
        let ignorable = [#"num_batches_tracked$"#, #"denoising_class_embed"#, #"^class_embed\."#, #"^bbox_embed\."#]
        return source.tensorNames.filter { name in
            !used.contains(name) && !ignorable.contains { name.range(of: $0, options: .regularExpression) != nil }
        }.sorted()
    }
}

/// A layer as stored in an artifact: weights already folded (dequantized when quantized).
struct PreparedLayer {
    let weights: [Float]
    let bias: [Float]
    let quantization: LayerQuantization?
}

protocol PreparedLayers {
    /// nil when the store has no such layer; throws when it has one that does not fit.
    func layer(_ name: String, outputChannels: Int, elementsPerChannel: Int) throws -> PreparedLayer?
}

struct LayerNormParameters {
    let gamma: [Float]
    let beta: [Float]
    let epsilon: Float
}

extension SafeTensorsFile: ModelWeights.Source {
    var label: String { fileName }

    func shape(of name: String) -> [Int]? { info(name)?.shape }
}

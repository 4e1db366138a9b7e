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

    struct MissingTensor: Error, CustomStringConvertible {
        let description: String
    }

    private let source: Source
    /// The layers built from these weights share it: execution mode and input observers.
    let context = QuantizationContext()
    /// Canonical (newest transformers) name → name in the file.
    private var fileName: [String: String] = [:]
    private(set) var used: Set<String> = []

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

    init(_ source: Source) {
        self.source = source
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
            throw MissingTensor(description: "\(source.label): missing tensor '\(name)'")
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
        let folded = try foldedConvolution(conv: conv, norm: norm, outChannels: outChannels, inChannels: inChannels,
                                           kernel: kernel, epsilon: epsilon)
        return convolution(name, weightsOIHW: folded.weights, bias: folded.bias, inChannels: inChannels,
                           outChannels: outChannels, kernel: kernel, stride: stride, postOps: postOps)
    }

    /// A convolution from weights already prepared (folded, fused), padded to keep "same" geometry.
    func convolution(_ name: String, weightsOIHW: [Float], bias: [Float], inChannels: Int, outChannels: Int,
                     kernel: Int, stride: Int = 1, postOps: [PostOp] = []) -> ConvolutionLayer {
        ConvolutionLayer(name: name, weightsOIHW: weightsOIHW, bias: bias, inChannels: inChannels,
                         outChannels: outChannels, kernel: kernel, stride: stride, padding: (kernel - 1) / 2,
                         postOps: postOps, context: context)
    }

    func linear(_ prefix: String, inFeatures: Int, outFeatures: Int, postOps: [PostOp] = [],
                scale: Float = 1) throws -> LinearLayer {
        var weights = try floats("\(prefix).weight", [outFeatures, inFeatures])
        var bias = try floats("\(prefix).bias", [outFeatures])
        if scale != 1 {
            for i in weights.indices { weights[i] *= scale }
            for i in bias.indices { bias[i] *= scale }
        }
        return LinearLayer(name: prefix, weights: weights, bias: bias, inFeatures: inFeatures,
                           outFeatures: outFeatures, postOps: postOps, context: context)
    }

    func layerNorm(_ prefix: String, features: Int, epsilon: Float) throws -> LayerNormParameters {
        LayerNormParameters(gamma: try floats("\(prefix).weight", [features]),
                            beta: try floats("\(prefix).bias", [features]), epsilon: epsilon)
    }

    /// Tensors in the file that no layer asked for, except those inference never needs.
    func unusedTensors() -> [String] {
        let ignorable = [#"num_batches_tracked$"#, #"denoising_class_embed"#, #"^class_embed\."#, #"^bbox_embed\."#]
        return source.tensorNames.filter { name in
            !used.contains(name) && !ignorable.contains { name.range(of: $0, options: .regularExpression) != nil }
        }.sorted()
    }
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

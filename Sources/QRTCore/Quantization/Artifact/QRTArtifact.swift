import Foundation

/// The `.qrt` artifact: a safetensors container holding a quantized RT-DETR whole — its config,
/// every convolution/linear layer folded and quantized (packed weight levels, per-channel scales,
/// bias, input scale and zero point) or kept in FP32, the LayerNorm parameters, and the method,
/// bit widths, calibration and source-checkpoint hash in the metadata.
///
/// Layer tensors are named `<layer>#<part>`; `#` never occurs in checkpoint names.
public enum QRTArtifact {
    static let format = "qrt-detr"
    static let version = "1"

    public struct Provenance: Sendable {
        public var method: QuantizationMethod
        public var bits: BitWidths
        public var rounds: Int
        public var keepFP32: [String]
        public var sourceName: String
        public var sourceSHA256: String
        public var calibrationImages: [String]
        public var logitsSQNR: Double
        /// The square input size the calibration images were seen at; the artifact's default size.
        public var inputSize: Int

        public init(method: QuantizationMethod, bits: BitWidths, rounds: Int, keepFP32: [String], sourceName: String,
                    sourceSHA256: String, calibrationImages: [String], logitsSQNR: Double, inputSize: Int) {
            self.method = method
            self.bits = bits
            self.rounds = rounds
            self.keepFP32 = keepFP32
            self.sourceName = sourceName
            self.sourceSHA256 = sourceSHA256
            self.calibrationImages = calibrationImages
            self.logitsSQNR = logitsSQNR
            self.inputSize = inputSize
        }
    }

    /// SHA-256 of a Hugging Face checkpoint's weights file, for the provenance record.
    public static func checkpointHash(directory: URL) throws -> String {
        try SHA256.hexDigest(ofFile: directory.appendingPathComponent("model.safetensors"))
    }

    public static func write(_ model: RTDetrModel, provenance: Provenance, to url: URL) throws {
        let configJSON = try JSONEncoder().encode(model.config)
        func jsonText<T: Encodable>(_ value: T) throws -> String { String(decoding: try JSONEncoder().encode(value), as: UTF8.self) }
        var writer = SafeTensorsWriter(metadata: [
            "format": format, "version": version,
            "config": String(decoding: configJSON, as: UTF8.self),
            "method": provenance.method.rawValue, "bits": provenance.bits.description,
            "rounds": String(provenance.rounds), "keep_fp32": try jsonText(provenance.keepFP32),
            "source": provenance.sourceName, "source_sha256": provenance.sourceSHA256,
            "calibration_images": try jsonText(provenance.calibrationImages),
            "logits_sqnr_db": String(format: "%.2f", provenance.logitsSQNR),
            PreferredInputSize.artifactKey: String(provenance.inputSize),
            "created": ISO8601DateFormatter().string(from: Date()),
        ])
        for layer in model.quantizationContext.layers {
            let shape = [layer.outputChannels]
            try writer.add("\(layer.name)#bias", shape: shape, floats: layer.bias)
            guard let quantization = layer.quantization else {
                try writer.add("\(layer.name)#weight", shape: [layer.outputChannels, layer.elementsPerChannel], floats: layer.weights)
                continue
            }
            let weights = quantization.weights
            try writer.add("\(layer.name)#levels", dtype: .u8, shape: [weights.storage.count], bytes: weights.storage)
            try writer.add("\(layer.name)#weight_scales", shape: shape, floats: weights.quantization.scales)
            let input = quantization.input
            try writer.add("\(layer.name)#input_scale", shape: [1], floats: [input.scale])
            try writer.add("\(layer.name)#quantization", shape: [4],
                           int64s: [Int64(weights.bits), Int64(input.zeroPoint), Int64(input.qmin), Int64(input.qmax)])
        }
        for (name, values) in model.auxiliaryTensors {
            try writer.add(name, shape: [values.count], floats: values)
        }
        try writer.write(to: url)
    }

    /// Reads an artifact into a model ready to run in INT8.
    static func load(_ url: URL) throws -> RTDetrModel {
        let file = try SafeTensorsFile(contentsOf: url)
        let name = file.fileName
        guard file.metadata["format"] == format else {
            throw CheckpointError(.header, file: name, subject: "field 'format'", "not a qrt-detr artifact")
        }
        guard file.metadata["version"] == version else {
            throw CheckpointError(.header, file: name, subject: "field 'version'",
                                  "unsupported artifact version \(file.metadata["version"] ?? "(none)")")
        }
        guard let configText = file.metadata["config"] else {
            throw CheckpointError(.header, file: name, subject: "field 'config'", "missing")
        }
        let config = try RTDetrConfig(jsonData: Data(configText.utf8), fileName: "\(name) (config)")
        let store = ArtifactLayers(file: file)
        let weights = ModelWeights(file, prepared: store)
        let model = try RTDetrModel(config: config, weights: weights)
        let leftover = file.tensorNames.filter { !weights.used.contains($0) && !store.consumed.contains($0) }
        if let first = leftover.first {
            throw CheckpointError(.tensor, file: name, subject: CheckpointError.tensor(first), "not part of this model")
        }
        model.quantizationContext.mode = .int8
        return model
    }
}

/// The layers of an artifact, checked against the geometry the model expects.
final class ArtifactLayers: PreparedLayers {
    let file: SafeTensorsFile
    private(set) var consumed: Set<String> = []

    init(file: SafeTensorsFile) { self.file = file }

    func layer(_ name: String, outputChannels: Int, elementsPerChannel: Int) throws -> PreparedLayer? {
        let bias = try floats("\(name)#bias", [outputChannels])
        if file.contains("\(name)#weight") {
            return PreparedLayer(weights: try floats("\(name)#weight", [outputChannels, elementsPerChannel]),
                                 bias: bias, quantization: nil)
        }
        let scales = try floats("\(name)#weight_scales", [outputChannels])
        let inputScale = try floats("\(name)#input_scale", [1])[0]
        let fields = try integers("\(name)#quantization", count: 4)
        let (bits, zeroPoint, qmin, qmax) = (fields[0], fields[1], fields[2], fields[3])
        guard [4, 6, 8].contains(bits), (0...255).contains(qmin), (0...255).contains(qmax), qmin < qmax,
              (qmin...qmax).contains(zeroPoint) else {
            throw invalid("\(name)#quantization", "bits \(bits), zero point \(zeroPoint), levels \(qmin)...\(qmax) are not a valid u8/s8 quantization")
        }
        guard inputScale.isFinite, inputScale >= QuantizationParameters.minimumScale,
              scales.allSatisfy({ $0.isFinite && $0 >= QuantizationParameters.minimumScale }) else {
            throw invalid("\(name)#weight_scales", "scales must be positive and finite")
        }
        let levelsName = "\(name)#levels"
        consumed.insert(levelsName)
        let storage = try file.rawBytes(levelsName)
        let weights: QuantizedWeights
        do {
            weights = try QuantizedWeights(quantization: PerChannelWeightQuantization(bits: bits, scales: scales),
                                           elementsPerChannel: elementsPerChannel, storage: [UInt8](storage))
        } catch {
            throw invalid(levelsName, "\(error)")
        }
        let input = QuantizationParameters(scale: inputScale, zeroPoint: Int32(zeroPoint), qmin: Int32(qmin), qmax: Int32(qmax))
        return PreparedLayer(weights: weights.dequantized(), bias: bias,
                             quantization: LayerQuantization(weights: weights, input: input))
    }

    private func floats(_ tensor: String, _ shape: [Int]) throws -> [Float] {
        guard file.contains(tensor) else {
            throw CheckpointError(.missingTensor, file: file.fileName, subject: CheckpointError.tensor(tensor), "missing")
        }
        consumed.insert(tensor)
        return try file.floats(tensor, shape: shape)
    }

    private func integers(_ tensor: String, count: Int) throws -> [Int] {
        guard file.contains(tensor) else {
            throw CheckpointError(.missingTensor, file: file.fileName, subject: CheckpointError.tensor(tensor), "missing")
        }
        consumed.insert(tensor)
        let values = try file.int64s(tensor)
        guard values.count == count else { throw invalid(tensor, "expected \(count) values, found \(values.count)") }
        return values.map { Int(clamping: $0) }
    }

    private func invalid(_ tensor: String, _ detail: String) -> CheckpointError {
        CheckpointError(.tensor, file: file.fileName, subject: CheckpointError.tensor(tensor), detail)
    }
}

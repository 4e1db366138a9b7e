import Foundation

/// The parts of transformers' `RTDetrConfig` (`config.json` of an `RTDetrForObjectDetection`
/// checkpoint) that inference needs, read strictly.
///
/// Absent keys take transformers' defaults (`models/rt_detr/configuration_rt_detr.py`, v5.25);
/// present keys must have the right JSON type — null where a value is required, `"256"` for an
/// integer, or `1` for a boolean all throw. Unknown keys (training options, `architectures`, …)
/// are ignored. Every error is one line naming `config.json` and the field.
///
/// Activations stay as transformers' names (`relu`, `gelu`, `silu`/`swish`), limited to those the
/// engine implements; `gelu_new` and the like are refused here rather than at graph build.
public struct RTDetrConfig: Codable, Sendable, Equatable {
    /// Activation names accepted for every activation field.
    public static let supportedActivations: Set<String> = ["relu", "gelu", "silu", "swish"]

    public var dModel: Int
    public var encoderHiddenDim: Int
    /// Channels of the backbone features fed to the encoder, one per level.
    public var encoderInChannels: [Int]
    public var featStrides: [Int]
    public var encoderLayers: Int
    public var encoderFfnDim: Int
    public var encoderAttentionHeads: Int
    /// Feature levels (indices into `encoderInChannels`) that get the AIFI transformer layer.
    public var encodeProjLayers: [Int]
    public var positionalEncodingTemperature: Int
    public var encoderActivationFunction: String
    /// Activation of the encoder's conv blocks (RepVGG / CSPRep / ConvNorm).
    public var activationFunction: String
    public var normalizeBefore: Bool
    public var hiddenExpansion: Double
    public var numQueries: Int
    public var decoderInChannels: [Int]
    public var decoderFfnDim: Int
    public var numFeatureLevels: Int
    public var decoderNPoints: Int
    public var decoderLayers: Int
    public var decoderAttentionHeads: Int
    public var decoderActivationFunction: String
    public var learnInitialQuery: Bool
    /// [height, width] for fixed anchors; nil means anchors follow each input's size.
    public var anchorImageSize: [Int]?
    /// When set, transformers' encoder skips the AIFI position embedding at inference (v5.25
    /// behaviour); [height, width], a single integer read as [n, n].
    public var evalSize: [Int]?
    public var withBoxRefine: Bool
    public var layerNormEps: Double
    public var batchNormEps: Double
    /// Size of the denoising embedding in the checkpoint (training only; 0 means none).
    public var numDenoising: Int
    /// Class index → label, contiguous from 0.
    public var id2label: [Int: String]
    public var backbone: Backbone

    public var numLabels: Int { id2label.count }
    /// Labels in class-index order.
    public var labels: [String] { (0..<numLabels).map { id2label[$0] ?? "LABEL_\($0)" } }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case dModel = "d_model"
        case encoderHiddenDim = "encoder_hidden_dim"
        case encoderInChannels = "encoder_in_channels"
        case featStrides = "feat_strides"
        case encoderLayers = "encoder_layers"
        case encoderFfnDim = "encoder_ffn_dim"
        case encoderAttentionHeads = "encoder_attention_heads"
        case encodeProjLayers = "encode_proj_layers"
        case positionalEncodingTemperature = "positional_encoding_temperature"
        case encoderActivationFunction = "encoder_activation_function"
        case activationFunction = "activation_function"
        case normalizeBefore = "normalize_before"
        case hiddenExpansion = "hidden_expansion"
        case numQueries = "num_queries"
        case decoderInChannels = "decoder_in_channels"
        case decoderFfnDim = "decoder_ffn_dim"
        case numFeatureLevels = "num_feature_levels"
        case decoderNPoints = "decoder_n_points"
        case decoderLayers = "decoder_layers"
        case decoderAttentionHeads = "decoder_attention_heads"
        case decoderActivationFunction = "decoder_activation_function"
        case learnInitialQuery = "learn_initial_query"
        case anchorImageSize = "anchor_image_size"
        case evalSize = "eval_size"
        case withBoxRefine = "with_box_refine"
        case layerNormEps = "layer_norm_eps"
        case batchNormEps = "batch_norm_eps"
        case numDenoising = "num_denoising"
        case id2label
        case numLabels = "num_labels"
        case backbone = "backbone_config"
        case timmBackbone = "backbone"
    }

    static let modelType = "rt_detr"

    // MARK: - Loading

    /// Reads and validates `config.json`.
    public static func load(from url: URL) throws(CheckpointError) -> RTDetrConfig {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError(.io, file: url.lastPathComponent, subject: nil, "cannot read: \(CheckpointError.readFailure(url, error))")
        }
        return try RTDetrConfig(jsonData: data, fileName: url.lastPathComponent)
    }

    /// Parses and validates config JSON; `fileName` names it in errors.
    public init(jsonData: Data, fileName: String = "config.json") throws(CheckpointError) {
        let decoder = JSONDecoder()
        decoder.userInfo[.checkpointFileName] = fileName
        do {
            self = try decoder.decode(RTDetrConfig.self, from: jsonData)
        } catch let error as CheckpointError {
            throw error
        } catch {
            // Only malformed JSON gets here (field errors are CheckpointErrors already); the strict
            // header parser says where.
            let located = jsonData.withUnsafeBytes { raw -> String? in
                do throws(CheckpointJSON.ParseError) {
                    _ = try CheckpointJSON.parse(raw)
                    return nil
                } catch {
                    return "\(error.message) at byte \(error.offset)"
                }
            }
            let reason = located ?? CheckpointError.oneLine("\(error)", limit: 200)
            throw CheckpointError(.config, file: fileName, subject: nil, "is not valid JSON: \(reason)")
        }
    }

    public init(from decoder: Swift.Decoder) throws {
        let fields = try ConfigFields(decoder, keyedBy: CodingKeys.self, prefix: "", objectName: "")
        let modelType: String = try fields.required(.modelType, "a string")
        guard modelType == Self.modelType else {
            throw fields.fail(
                .modelType, "\(CheckpointError.quote(modelType, limit: 40)) is not supported (expected '\(Self.modelType)')")
        }

        dModel = try fields.value(.dModel, default: 256, "an integer")
        encoderHiddenDim = try fields.value(.encoderHiddenDim, default: 256, "an integer")
        encoderInChannels = try fields.value(.encoderInChannels, default: [512, 1024, 2048], "a list of integers")
        featStrides = try fields.value(.featStrides, default: [8, 16, 32], "a list of integers")
        encoderLayers = try fields.value(.encoderLayers, default: 1, "an integer")
        encoderFfnDim = try fields.value(.encoderFfnDim, default: 1024, "an integer")
        encoderAttentionHeads = try fields.value(.encoderAttentionHeads, default: 8, "an integer")
        encodeProjLayers = try fields.value(.encodeProjLayers, default: [2], "a list of integers")
        positionalEncodingTemperature = try fields.value(.positionalEncodingTemperature, default: 10000, "an integer")
        encoderActivationFunction = try fields.activation(.encoderActivationFunction, default: "gelu")
        activationFunction = try fields.activation(.activationFunction, default: "silu")
        normalizeBefore = try fields.value(.normalizeBefore, default: false, "true or false")
        hiddenExpansion = try fields.value(.hiddenExpansion, default: 1.0, "a number")
        numQueries = try fields.value(.numQueries, default: 300, "an integer")
        decoderInChannels = try fields.value(.decoderInChannels, default: [256, 256, 256], "a list of integers")
        decoderFfnDim = try fields.value(.decoderFfnDim, default: 1024, "an integer")
        numFeatureLevels = try fields.value(.numFeatureLevels, default: 3, "an integer")
        decoderNPoints = try fields.value(.decoderNPoints, default: 4, "an integer")
        decoderLayers = try fields.value(.decoderLayers, default: 6, "an integer")
        decoderAttentionHeads = try fields.value(.decoderAttentionHeads, default: 8, "an integer")
        decoderActivationFunction = try fields.activation(.decoderActivationFunction, default: "relu")
        learnInitialQuery = try fields.value(.learnInitialQuery, default: false, "true or false")
        anchorImageSize = try fields.optional(.anchorImageSize, "null or a list [height, width]")
        evalSize = try Self.decodeEvalSize(fields)
        withBoxRefine = try fields.value(.withBoxRefine, default: true, "true or false")
        layerNormEps = try fields.value(.layerNormEps, default: 1e-5, "a number")
        batchNormEps = try fields.value(.batchNormEps, default: 1e-5, "a number")
        numDenoising = try fields.value(.numDenoising, default: 100, "an integer")
        id2label = try Self.decodeLabels(fields)

        if fields.container.contains(.backbone), !(try fields.container.decodeNil(forKey: .backbone)) {
            let nested = try fields.container.superDecoder(forKey: .backbone)
            backbone = try Backbone(from: nested)
        } else {
            // transformers builds a default ResNet-50-vd-style backbone; a timm/hub name is not ours to fetch.
            if let name: String = try fields.optional(.timmBackbone, "null or a string") {
                throw fields.fail(
                    .timmBackbone,
                    "\(CheckpointError.quote(name, limit: 60)) names a timm/hub backbone, which is not supported; give backbone_config")
            }
            backbone = .resNet50Default
        }
        try validate(fields)
    }

    private static func decodeEvalSize(_ fields: ConfigFields<CodingKeys>) throws -> [Int]? {
        if let single = try? fields.optional(.evalSize, "") as Int? {
            return [single, single]
        }
        return try fields.optional(.evalSize, "null, an integer or a list [height, width]")
    }

    /// `id2label` (string keys "0"…"n-1"), or `num_labels` generic labels, or transformers' 2.
    private static func decodeLabels(_ fields: ConfigFields<CodingKeys>) throws -> [Int: String] {
        let numLabels: Int? = try fields.optional(.numLabels, "an integer")
        guard let raw: [String: String] = try fields.optional(.id2label, "an object mapping class indices to label strings")
        else {
            let count = numLabels ?? 2
            try fields.positive(.numLabels, count)
            return Dictionary(uniqueKeysWithValues: (0..<count).map { ($0, "LABEL_\($0)") })
        }
        var labels: [Int: String] = [:]
        for (key, label) in raw {
            guard let index = Int(key), index >= 0, String(index) == key else {
                throw fields.fail(.id2label, "key \(CheckpointError.quote(key, limit: 40)) is not a class index")
            }
            labels[index] = label
        }
        guard !labels.isEmpty else { throw fields.fail(.id2label, "must not be empty") }
        if let missing = (0..<labels.count).first(where: { labels[$0] == nil }) {
            throw fields.fail(.id2label, "class indices must run 0..<\(labels.count); \(missing) is missing")
        }
        if let numLabels, numLabels != labels.count {
            throw fields.fail(.numLabels, "is \(numLabels), but id2label has \(labels.count) labels")
        }
        return labels
    }

    /// Checks values transformers would reject or crash on at model build or first forward pass.
    private func validate(_ fields: ConfigFields<CodingKeys>) throws {
        try fields.positive(.dModel, dModel)
        try fields.positive(.encoderHiddenDim, encoderHiddenDim)
        try fields.positiveList(.encoderInChannels, encoderInChannels)
        try fields.positiveList(.featStrides, featStrides)
        try fields.nonNegative(.encoderLayers, encoderLayers)
        try fields.positive(.encoderFfnDim, encoderFfnDim)
        try fields.positive(.encoderAttentionHeads, encoderAttentionHeads)
        try fields.positive(.positionalEncodingTemperature, positionalEncodingTemperature)
        try fields.positive(.hiddenExpansion, hiddenExpansion)
        try fields.positive(.numQueries, numQueries)
        try fields.positiveList(.decoderInChannels, decoderInChannels)
        try fields.positive(.decoderFfnDim, decoderFfnDim)
        try fields.positive(.numFeatureLevels, numFeatureLevels)
        try fields.positive(.decoderNPoints, decoderNPoints)
        try fields.positive(.decoderLayers, decoderLayers)
        try fields.positive(.decoderAttentionHeads, decoderAttentionHeads)
        try fields.positive(.layerNormEps, layerNormEps)
        try fields.positive(.batchNormEps, batchNormEps)
        try fields.nonNegative(.numDenoising, numDenoising)

        guard encoderHiddenDim % encoderAttentionHeads == 0 else {
            throw fields.fail(
                .encoderAttentionHeads, "\(encoderAttentionHeads) heads do not divide encoder_hidden_dim \(encoderHiddenDim)")
        }
        guard encoderHiddenDim % 4 == 0 else {
            throw fields.fail(
                .encoderHiddenDim, "must be a multiple of 4 for the 2-D sine position embedding, found \(encoderHiddenDim)")
        }
        guard dModel % decoderAttentionHeads == 0 else {
            throw fields.fail(.decoderAttentionHeads, "\(decoderAttentionHeads) heads do not divide d_model \(dModel)")
        }
        guard featStrides.count == encoderInChannels.count else {
            throw fields.fail(
                .featStrides, "has \(featStrides.count) levels but encoder_in_channels has \(encoderInChannels.count)")
        }
        guard backbone.outIndices.count == encoderInChannels.count else {
            throw fields.fail(
                .encoderInChannels,
                "has \(encoderInChannels.count) levels but the backbone outputs \(backbone.outIndices.count) (backbone_config.out_indices)")
        }
        if let bad = encodeProjLayers.first(where: { !(0..<encoderInChannels.count).contains($0) }) {
            throw fields.fail(.encodeProjLayers, "level \(bad) is outside 0..<\(encoderInChannels.count)")
        }
        guard decoderInChannels.count == encoderInChannels.count else {
            throw fields.fail(
                .decoderInChannels,
                "has \(decoderInChannels.count) levels but the encoder outputs \(encoderInChannels.count)")
        }
        guard numFeatureLevels >= decoderInChannels.count else {
            throw fields.fail(
                .numFeatureLevels, "is \(numFeatureLevels), fewer than the \(decoderInChannels.count) decoder_in_channels")
        }
        if let anchorImageSize {
            guard anchorImageSize.count == 2 else {
                throw fields.fail(.anchorImageSize, "must be [height, width], found \(CheckpointError.list(anchorImageSize))")
            }
            try fields.positiveList(.anchorImageSize, anchorImageSize)
        }
        if let evalSize {
            guard evalSize.count == 2 else {
                throw fields.fail(.evalSize, "must be [height, width], found \(CheckpointError.list(evalSize))")
            }
            try fields.positiveList(.evalSize, evalSize)
        }
    }

    // MARK: - Encoding

    public func encode(to encoder: Swift.Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.modelType, forKey: .modelType)
        try container.encode(dModel, forKey: .dModel)
        try container.encode(encoderHiddenDim, forKey: .encoderHiddenDim)
        try container.encode(encoderInChannels, forKey: .encoderInChannels)
        try container.encode(featStrides, forKey: .featStrides)
        try container.encode(encoderLayers, forKey: .encoderLayers)
        try container.encode(encoderFfnDim, forKey: .encoderFfnDim)
        try container.encode(encoderAttentionHeads, forKey: .encoderAttentionHeads)
        try container.encode(encodeProjLayers, forKey: .encodeProjLayers)
        try container.encode(positionalEncodingTemperature, forKey: .positionalEncodingTemperature)
        try container.encode(encoderActivationFunction, forKey: .encoderActivationFunction)
        try container.encode(activationFunction, forKey: .activationFunction)
        try container.encode(normalizeBefore, forKey: .normalizeBefore)
        try container.encode(hiddenExpansion, forKey: .hiddenExpansion)
        try container.encode(numQueries, forKey: .numQueries)
        try container.encode(decoderInChannels, forKey: .decoderInChannels)
        try container.encode(decoderFfnDim, forKey: .decoderFfnDim)
        try container.encode(numFeatureLevels, forKey: .numFeatureLevels)
        try container.encode(decoderNPoints, forKey: .decoderNPoints)
        try container.encode(decoderLayers, forKey: .decoderLayers)
        try container.encode(decoderAttentionHeads, forKey: .decoderAttentionHeads)
        try container.encode(decoderActivationFunction, forKey: .decoderActivationFunction)
        try container.encode(learnInitialQuery, forKey: .learnInitialQuery)
        try container.encode(anchorImageSize, forKey: .anchorImageSize)
        try container.encode(evalSize, forKey: .evalSize)
        try container.encode(withBoxRefine, forKey: .withBoxRefine)
        try container.encode(layerNormEps, forKey: .layerNormEps)
        try container.encode(batchNormEps, forKey: .batchNormEps)
        try container.encode(numDenoising, forKey: .numDenoising)
        try container.encode(
            Dictionary(uniqueKeysWithValues: id2label.map { (String($0.key), $0.value) }), forKey: .id2label)
        try container.encode(backbone, forKey: .backbone)
    }
}

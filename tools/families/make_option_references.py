"""Makes tests/data/families/<case>: tiny random-weight checkpoints of the families kite runs, each
exercising config options the shared/families checkpoints leave at one value (longrope, Falcon's
new_decoder_architecture / ALiBi / sequential layout, GPT-NeoX's sequential residual, Gemma 3's
scaled global rope, ...), with what transformers computes for them: f32 logits at every prompt
position and greedy continuations, in the layout of shared/families (reference.safetensors with
prompt{i}.ids / .logits / .greedy).

    python3 tools/families/make_option_references.py   # needs torch and transformers 5.x

Eager attention, float32 weights, CPU, as shared/families was made."""
import json
import os
import shutil

import torch
import transformers
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "families")
VOCAB, HIDDEN = 128, 32
PROMPT_LENS = (5, 23, 41)
GREEDY = 12

BASE = dict(vocab_size=VOCAB, bos_token_id=1, eos_token_id=2, pad_token_id=0, initializer_range=0.1)

CASES = {
    # Phi-3 longrope: short factors up to original_max_position_embeddings (16), long ones past it.
    "phi3_longrope": ("Phi3ForCausalLM", dict(
        hidden_size=64, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=64, original_max_position_embeddings=16, partial_rotary_factor=0.5,
        rope_scaling={"rope_type": "longrope", "short_factor": [1.0, 1.3, 2.1, 3.5],
                      "long_factor": [1.5, 3.0, 7.0, 11.0]}, tie_word_embeddings=False)),
    # Falcon-40B layout: kv groups of 2 queries, ln_attn + ln_mlp, biases.
    "falcon_new_arch": ("FalconForCausalLM", dict(
        hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4, num_kv_heads=2, new_decoder_architecture=True,
        bias=True, max_position_embeddings=64)),
    "falcon_new_arch_one_norm": ("FalconForCausalLM", dict(
        hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4, num_kv_heads=1, new_decoder_architecture=True,
        num_ln_in_parallel_attn=1, ffn_hidden_size=40, max_position_embeddings=64)),
    # Falcon-7B family, sequential layers, one K/V head per query head.
    "falcon_sequential_mha": ("FalconForCausalLM", dict(
        hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4, multi_query=False, parallel_attn=False,
        bias=True, max_position_embeddings=64)),
    "falcon_alibi": ("FalconForCausalLM", dict(
        hidden_size=48, num_hidden_layers=2, num_attention_heads=6, alibi=True, max_position_embeddings=64)),
    "gpt_neox_sequential": ("GPTNeoXForCausalLM", dict(
        hidden_size=HIDDEN, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, rotary_pct=0.5,
        rotary_emb_base=500.0, use_parallel_residual=False, attention_bias=False, max_position_embeddings=64)),
    # Gemma 3: linear rope scaling on global layers, soft-capping on, query_pre_attn_scalar != head_dim.
    "gemma3_scaled_rope": ("Gemma3ForCausalLM", dict(
        hidden_size=HIDDEN, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=1,
        head_dim=8, query_pre_attn_scalar=12, sliding_window=6, layer_types=["sliding_attention", "full_attention",
        "sliding_attention"], rope_scaling={"rope_type": "linear", "factor": 4.0}, rope_theta=20000.0,
        rope_local_base_freq=300.0, attn_logit_softcapping=8.0, final_logit_softcapping=5.0,
        max_position_embeddings=64)),
    "gemma2_no_caps": ("Gemma2ForCausalLM", dict(
        hidden_size=HIDDEN, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        head_dim=16, query_pre_attn_scalar=32, sliding_window=10, attn_logit_softcapping=None,
        final_logit_softcapping=None, max_position_embeddings=64)),
    "starcoder2_no_bias": ("Starcoder2ForCausalLM", dict(
        hidden_size=HIDDEN, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
        use_bias=False, sliding_window=None, max_position_embeddings=64)),
    "gpt_bigcode_mha": ("GPTBigCodeForCausalLM", dict(
        n_embd=HIDDEN, n_inner=48, n_layer=2, n_head=4, multi_query=False, scale_attn_weights=False,
        activation_function="gelu", n_positions=64)),
    # Bloom: 6 heads (slopes beyond a power of two), residual from the normed value.
    "bloom_residual_post_ln": ("BloomForCausalLM", dict(
        hidden_size=48, n_layer=2, n_head=6, apply_residual_connection_post_layernorm=True)),
    "phi_qk_layernorm": ("PhiForCausalLM", dict(
        hidden_size=HIDDEN, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, qk_layernorm=True,
        partial_rotary_factor=0.5, max_position_embeddings=64)),
    "glm4_no_bias": ("Glm4ForCausalLM", dict(
        hidden_size=HIDDEN, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=8, attention_bias=False, partial_rotary_factor=0.75, max_position_embeddings=64)),
}


def main():
    torch.manual_seed(0)
    for case, (arch, fields) in CASES.items():
        model_type = {"Phi3ForCausalLM": "phi3", "FalconForCausalLM": "falcon", "GPTNeoXForCausalLM": "gpt_neox",
                      "Gemma3ForCausalLM": "gemma3_text", "Gemma2ForCausalLM": "gemma2",
                      "Starcoder2ForCausalLM": "starcoder2", "GPTBigCodeForCausalLM": "gpt_bigcode",
                      "BloomForCausalLM": "bloom", "PhiForCausalLM": "phi", "Glm4ForCausalLM": "glm4"}[arch]
        config = transformers.AutoConfig.for_model(model_type, **BASE, **fields)
        config.architectures = [arch]
        model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager",
                                                              dtype=torch.float32).eval()
        # Norm weights start at 1 (or 0 for Gemma's 1 + w); make them random too so they are tested.
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "norm" in name or "ln" in name.split(".")[-2]:
                    p.add_(torch.randn_like(p) * 0.2)
                elif name.endswith("bias"):
                    p.copy_(torch.randn_like(p) * 0.1)
        folder = os.path.join(OUT, case)
        shutil.rmtree(folder, ignore_errors=True)
        model.save_pretrained(folder, safe_serialization=True)
        ref = {}
        gen = torch.Generator().manual_seed(len(case))
        for i, n in enumerate(PROMPT_LENS):
            ids = torch.randint(3, VOCAB, (1, n), generator=gen)
            with torch.no_grad():
                logits = model(ids).logits[0].float()
                out = model.generate(ids, do_sample=False, max_new_tokens=GREEDY, min_new_tokens=GREEDY,
                                     eos_token_id=None, pad_token_id=0)
            ref[f"prompt{i}.ids"] = ids[0].to(torch.int64).contiguous()
            ref[f"prompt{i}.logits"] = logits.contiguous()
            ref[f"prompt{i}.greedy"] = out[0, n:].to(torch.int64).contiguous()
        save_file(ref, os.path.join(folder, "reference.safetensors"))
        for extra in ("generation_config.json",):
            path = os.path.join(folder, extra)
            if os.path.exists(path):
                os.remove(path)
        print(case, "done", json.load(open(os.path.join(folder, "config.json"))).get("architectures"))


if __name__ == "__main__":
    main()

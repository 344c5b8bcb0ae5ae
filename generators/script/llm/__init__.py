"""LLM script writers: one `LLMWriter` (prompts, checks, repair, fallback) over three clients.

    llamacpp.py        local GGUF through llama-cpp-python, grammar-constrained JSON
    transformers_lm.py local Hugging Face causal LM (or GGUF), batched, bf16/fp16 on GPU
    openai_chat.py     any OpenAI-compatible chat endpoint
    writer.py          the writer: plan → prompts → generate / repair / regenerate → fallback
    prompts.py         prompt sets from templates/prompts/llm/<set>/, profile text as quoted data
    reply_checks.py    the reply contract (SegmentDraft) and every check a reply must pass
    base.py            the client interface: ChatRequest in, Completion (or the exception) out
"""

import type { StepTask } from '@jetflow/contracts';
import type { AgentView } from './agent-definition';
import type { ChatMessage } from './chat-model';

/**
 * The conversation an agent step starts from: the agent's system prompt, the chat trigger's
 * `history` (`[{role, content}]`, user/assistant/system turns; anything else is ignored), then the
 * user's message: the step's `message` parameter (already resolved) or `input.current_message`.
 */
export function buildConversation(agent: Pick<AgentView, 'system_prompt'>, task: Pick<StepTask, 'parameters' | 'input' | 'chat'>): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (agent.system_prompt) messages.push({ role: 'system', content: agent.system_prompt });
  const history = task.input['history'];
  if (Array.isArray(history)) {
    for (const h of history) {
      if (!h || typeof h !== 'object') continue;
      const { role, content } = h as { role?: unknown; content?: unknown };
      if ((role === 'user' || role === 'system') && typeof content === 'string') messages.push({ role, content });
      else if (role === 'assistant' && typeof content === 'string') messages.push({ role, content });
    }
  }
  const message = task.parameters['message'] !== undefined ? task.parameters['message'] : task.input['current_message'];
  if (message !== undefined && message !== null && message !== '') {
    messages.push({ role: 'user', content: typeof message === 'string' ? message : JSON.stringify(message) });
  }
  // A continued chat: the answers so far and the user's later messages, in order.
  for (const m of task.chat ?? []) messages.push({ role: m.role, content: m.content });
  return messages;
}
